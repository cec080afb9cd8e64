import { describe, expect, it } from "vitest";
import { selectEndpoints } from "./endpoints.js";
import { parseConfig, parseConfigText } from "./schema.js";
import { managerSettingsOf } from "./settings.js";

describe("config schema", () => {
  it("accepts xiaozhi-client's file as it is, unknown fields kept", () => {
    const file = {
      mcpEndpoint: "wss://api.xiaozhi.me/mcp/?token=abc",
      mcpServers: {
        calculator: { command: "node", args: ["./mcpServers/calculator.js"] },
        remote: { type: "sse", url: "https://example.com/sse" },
        web: { url: "https://example.com/mcp", headers: { Authorization: "Bearer x" } },
      },
      mcpServerConfig: { calculator: { tools: { calculator: { description: "d", enable: true } } } },
      connection: { heartbeatInterval: 30000, heartbeatTimeout: 10000, reconnectInterval: 5000 },
      modelscope: { apiKey: "k" },
      webUI: { port: 9999 },
    };
    expect(parseConfig(file)).toEqual(file);
  });

  it("reads a service's type in xiaozhi-client's spellings", () => {
    const url = "https://mcp.api-inference.modelscope.net/abc/mcp";
    const types = ["streamableHttp", "streamable_http", "Streamable-HTTP", "HTTP", "SSE", "sse"];
    const config = parseConfig({
      mcpServers: {
        ...Object.fromEntries(types.map((type, i) => [`s${i}`, { type, url }])),
        local: { type: "STDIO", command: "node" },
      },
    });
    expect(Object.values(config.mcpServers ?? {}).map((s) => (s as { type?: string }).type)).toEqual([
      "streamable-http",
      "streamable-http",
      "streamable-http",
      "http",
      "sse",
      "sse",
      "stdio",
    ]);
    expect(() => parseConfig({ mcpServers: { x: { type: "websocket", url } } })).toThrow(
      /mcpServers\.x\.type: Invalid option: expected one of "sse"\|"streamable-http"\|"http"/,
    );
  });

  it("names what is wrong in a service of a known shape, not the shapes it could have", () => {
    const problem = (service: unknown) => {
      try {
        parseConfig({ mcpServers: { s: service } });
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(problem({ command: "node", args: "./x.js" })).toBe(
      "invalid config: mcpServers.s.args: Invalid input: expected array, received string",
    );
    expect(problem({ command: "node", env: { PORT: 8080 } })).toBe(
      "invalid config: mcpServers.s.env.PORT: Invalid input: expected string, received number",
    );
    expect(problem({ url: "ftp://x" })).toBe("invalid config: mcpServers.s.url: must be an http(s) URL");
    expect(problem({ replicas: [{ command: "node", args: [1] }] })).toBe(
      "invalid config: mcpServers.s.replicas[0].args[0]: Invalid input: expected string, received number",
    );
    // Of no known shape: what the shapes are.
    expect(problem({ args: [] })).toMatch(/mcpServers\.s: needs `command`/);
  });

  it("says which field is wrong and why, without echoing secrets", () => {
    expect(() =>
      parseConfig({
        mcpEndpoint: ["wss://x/?token=s3cr3t", 5],
        connection: { heartbeatInterval: "often", maxReconnectAttempts: -1 },
        mcpServers: { bad: { args: [] } },
      }),
    ).toThrow(/mcpServers\.bad: needs `command`/);
    expect(() =>
      parseConfig({
        mcpEndpoint: ["wss://x/?token=s3cr3t", 5],
        connection: { heartbeatInterval: "often", maxReconnectAttempts: -1 },
      }),
    ).toThrow(
      /mcpEndpoint: must be a URL, or a list.*connection\.heartbeatInterval: .*number.*connection\.maxReconnectAttempts: .*>=0/s,
    );
    try {
      parseConfigText('{"mcpEndpoint": "wss://x/?token=s3cr3t" "x": 1}');
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/not valid JSON at line 1, column \d+/);
      expect(String(error)).not.toContain("s3cr3t");
    }
    // JSON5: where, and the character of the syntax found there; never one that may be a value's.
    const json5Error = (text: string) => {
      try {
        parseConfigText(text, "json5");
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("it parsed");
    };
    expect(json5Error("{\n  a: 1,\n}}")).toBe(
      "config is not valid JSON5 at line 3, column 2: unexpected `}`",
    );
    expect(json5Error("{a: 1 'b': 2}")).toBe("config is not valid JSON5 at line 1, column 7: unexpected `'`");
    expect(json5Error('{a: 1 "b": 2}')).toBe('config is not valid JSON5 at line 1, column 7: unexpected `"`');
    expect(json5Error("{a: s3cr3t}")).toBe("config is not valid JSON5 at line 1, column 5");
    expect(json5Error("{a: [1,")).toBe("config is not valid JSON5 (it ends too early)");
  });

  it("selects endpoints: strings and objects; placeholders, non-ws, empty and repeated ones skipped", () => {
    const { endpoints, skipped } = selectEndpoints([
      "wss://a/?token=1",
      { url: "wss://b/?token=2", name: "kitchen", weight: 2, services: ["calc"] },
      "<请填写你的接入点地址>",
      "http://c/?token=3",
      " ",
      "wss://a/?token=1",
    ]);
    expect(endpoints).toEqual([
      { url: "wss://a/?token=1", name: "a" },
      { url: "wss://b/?token=2", name: "kitchen", weight: 2, data: { services: ["calc"] } },
    ]);
    expect(skipped.map((s) => s.reason)).toEqual([
      "a placeholder, not a real endpoint",
      "not a ws:// or wss:// URL",
      "empty",
      "listed twice",
    ]);
    expect(JSON.stringify(skipped)).not.toMatch(/token=[13]\b/);
  });

  it("maps the connection block onto manager settings", () => {
    expect(
      managerSettingsOf({
        reconnectInterval: 5000,
        maxReconnectInterval: 20000,
        connectionTimeout: 3000,
        autoReconnect: false,
      }),
    ).toEqual({
      autoReconnect: false,
      connectTimeout: 3000,
      backoff: { initialDelay: 5000, maxDelay: 20000 },
    });
    expect(managerSettingsOf(undefined)).toEqual({});
  });
});

describe("the cluster block", () => {
  it("takes a redis URL, an instance id, a lease TTL and a namespace, and refuses what cannot work", () => {
    const cluster = {
      redis: "rediss://user:pw@redis.example:6380/2",
      instanceId: "box-1",
      leaseTtl: 5000,
      namespace: "home",
    };
    expect(parseConfig({ cluster }).cluster).toEqual(cluster);
    expect(() => parseConfig({ cluster: { redis: "http://redis:6379" } })).toThrow(
      /cluster\.redis: must be a redis:\/\/ or rediss:\/\/ URL/,
    );
    expect(() => parseConfig({ cluster: { redis: "redis://r", instanceId: "a|b" } })).toThrow(
      /cluster\.instanceId/,
    );
    expect(() => parseConfig({ cluster: { redis: "redis://r", leaseTtl: 10 } })).toThrow(/cluster\.leaseTtl/);
    expect(() => parseConfig({ cluster: { redis: "redis://r", leaseTTL: 5000 } })).toThrow(/cluster/);
  });
});
