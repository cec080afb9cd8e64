import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { McpServiceManager } from "@xiaozhi-connect/mcp-services";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig, servicesOf } from "../src/index.js";
import { finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await finish(stack);
  stack = undefined;
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** xiaozhi-client's default calculator, as a file beside the config, importing the SDK by URL. */
function calculatorScript(): string {
  const mcp = import.meta.resolve("@modelcontextprotocol/sdk/server/mcp.js");
  const stdio = import.meta.resolve("@modelcontextprotocol/sdk/server/stdio.js");
  return `import { McpServer } from ${JSON.stringify(mcp)};
import { StdioServerTransport } from ${JSON.stringify(stdio)};
const server = new McpServer({ name: "calculator", version: "1.0.0" });
server.registerTool("calculator", { description: "evaluates", inputSchema: {} }, () => ({
  content: [{ type: "text", text: process.cwd() }],
}));
await server.connect(new StdioServerTransport());
`;
}

describe("a xiaozhi-client user's config, as it is", () => {
  it("runs ./mcpServers/calculator.js from the config's folder, whatever the start directory", async () => {
    stack = await Stack.start(
      {
        mcpEndpoint: ["cloud:a"],
        mcpServers: { calculator: { command: "node", args: ["./mcpServers/calculator.mjs"] } },
      },
      {
        beforeStart: (dir) => {
          mkdirSync(join(dir, "mcpServers"));
          writeFileSync(join(dir, "mcpServers", "calculator.mjs"), calculatorScript());
        },
      },
    );
    const s = stack;
    // The stack's folder is not this process's working directory.
    expect(process.cwd()).not.toBe(s.dir);
    expect(s.adapter.services()[0]).toMatchObject({ name: "calculator", state: "up" });
    const session = await s.cloud.waitForSession(token("a"));
    const result = await session.callTool("calculator__calculator", {});
    // It ran in the config's folder.
    expect(result.content).toEqual([{ type: "text", text: s.dir }]);
  });

  it("resolves relative commands and arguments as xiaozhi-client does", () => {
    const services = servicesOf(
      parseConfig({
        mcpServers: {
          a: { command: "node", args: ["./x.js", "../y.py", "tool.ts", "-y", "pkg/name", "/abs/z.js"] },
          b: { command: "./bin/run", args: ["./x.js", "tool.ts", "../y.py"], cwd: "sub" },
          c: { url: "http://127.0.0.1:1/mcp" },
        },
      }),
      "/home/me/.xiaozhi-client",
    );
    expect(services.a).toEqual({
      command: "node",
      args: [
        "/home/me/.xiaozhi-client/x.js",
        "/home/me/y.py",
        "/home/me/.xiaozhi-client/tool.ts",
        "-y",
        "pkg/name",
        "/abs/z.js",
      ],
      cwd: "/home/me/.xiaozhi-client",
    });
    // With a `cwd` of its own, its relative paths are read from there.
    expect(services.b).toMatchObject({
      command: "/home/me/.xiaozhi-client/sub/bin/run",
      args: [
        "/home/me/.xiaozhi-client/sub/x.js",
        "/home/me/.xiaozhi-client/sub/tool.ts",
        "/home/me/.xiaozhi-client/y.py",
      ],
      cwd: "/home/me/.xiaozhi-client/sub",
    });
    expect(services.c).toEqual({ url: "http://127.0.0.1:1/mcp" });
  });

  for (const [fileName, text] of [
    [
      "xiaozhi.config.json5",
      `// my agents\n{\n  // the kitchen\n  mcpEndpoint: ['cloud:a'], /* more soon */\n  webUI: { port: 9999, },\n}\n`,
    ],
    [
      "xiaozhi.config.jsonc",
      `// my agents\n{\n  // the kitchen\n  "mcpEndpoint": ["cloud:a"], /* more soon */\n  "webUI": { "port": 9999, },\n}\n`,
    ],
  ] as const) {
    it(`reads, reloads and edits ${fileName} with every comment kept`, async () => {
      stack = await Stack.start(text, { fileName });
      const s = stack;
      await s.cloud.waitForSession(token("a"));
      // A hot reload of the commented file.
      writeFileSync(
        s.path,
        s.fill(
          text
            .replace("['cloud:a']", "['cloud:a', 'cloud:b']")
            .replace(`["cloud:a"]`, `["cloud:a", "cloud:b"]`),
        ),
      );
      await s.cloud.waitForSession(token("b"));
      const added = await s.api("POST", "/api/endpoints", { url: s.url("c") });
      expect(added.status).toBe(201);
      const saved = readFileSync(s.path, "utf8");
      for (const comment of ["// my agents", "// the kitchen", "/* more soon */"])
        expect(saved).toContain(comment);
      expect(saved).toContain(s.url("c"));
      const removed = await s.api("DELETE", `/api/endpoints/${s.idOf("a")}`);
      expect(removed.status).toBe(204);
      const after = readFileSync(s.path, "utf8");
      for (const comment of ["// my agents", "// the kitchen", "/* more soon */"])
        expect(after).toContain(comment);
      expect(after).not.toContain(s.url("a"));
      expect(
        s.adapter
          .endpoints()
          .map((e) => e.id)
          .sort(),
      ).toEqual([s.idOf("b"), s.idOf("c")].sort());
    });
  }

  it("reports a broken JSON5 file with its line and column, and keeps the running config", async () => {
    stack = await Stack.start(`{ mcpEndpoint: ['cloud:a'] }`, { fileName: "xiaozhi.config.json5" });
    const s = stack;
    writeFileSync(s.path, "{\n  mcpEndpoint: [\n    'x' 'y'\n  ]\n}\n");
    await s.until(() => s.adapter.configStatus().lastError !== null, 5000, "rejection");
    expect(s.adapter.configStatus().lastError).toMatch(/not valid JSON5 at line 3, column \d+/);
    expect(s.adapter.endpoints()).toHaveLength(1);
  });
});

/** A fake HTTP API on loopback that records each request and answers with `reply`. */
async function fakeApi(
  reply: (req: IncomingMessage, body: string) => { status?: number; json: unknown; delayMs?: number },
) {
  const requests: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const answer = reply(req, body);
      const send = () =>
        res
          .writeHead(answer.status ?? 200, { "content-type": "application/json" })
          .end(JSON.stringify(answer.json));
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

describe("customMCP tools", () => {
  it("serves http and coze tools to agents, with auth, templates, mapped results and timeouts", async () => {
    const http = await fakeApi((req) =>
      req.url?.startsWith("/slow")
        ? { json: {}, delayMs: 2000 }
        : { json: { ok: true, result: { forecast: "晴" } } },
    );
    const coze = await fakeApi(() => ({ json: { code: 0, msg: "", data: '{"output":"工作流完成"}' } }));
    stack = await Stack.start({
      mcpEndpoint: ["cloud:a"],
      platforms: { coze: { token: "coze-secret-token" } },
      customMCP: {
        tools: [
          {
            name: "weather",
            description: "天气",
            inputSchema: {
              type: "object",
              properties: { city: { type: "string" }, days: { type: "number" } },
            },
            handler: {
              type: "http",
              url: `${http.url}/forecast`,
              method: "POST",
              auth: { type: "bearer", token: "weather-secret" },
              body_template: '{"q":"{{city}}","n":"{{days}}","label":"city {{city}}"}',
              response_mapping: { success_path: "ok", data_path: "result.forecast" },
            },
          },
          {
            name: "slow",
            inputSchema: { type: "object" },
            handler: {
              type: "http",
              url: `${http.url}/slow`,
              method: "GET",
              timeout: 200,
              auth: { type: "api_key", api_key: "k1" },
            },
          },
          {
            name: "workflow",
            description: "Coze workflow",
            inputSchema: { type: "object", properties: { input: { type: "string" } } },
            handler: { type: "proxy", platform: "coze", config: { workflow_id: "7500", base_url: coze.url } },
          },
          { name: "script", inputSchema: { type: "object" }, handler: { type: "script", script: "x.sh" } },
        ],
      },
    });
    const s = stack;
    const session = await s.cloud.waitForSession(token("a"));
    const names = (await s.untilHeld("a", (held) => held !== undefined)) ?? [];
    expect(names).toEqual(expect.arrayContaining(["weather", "slow", "workflow"]));
    expect(names).not.toContain("script");

    const weather = await session.callTool("weather", { city: "北京", days: 3 });
    expect(weather).toMatchObject({ content: [{ type: "text", text: "晴" }] });
    const sent = http.requests.at(-1);
    expect(sent).toMatchObject({ method: "POST", url: "/forecast" });
    expect(sent?.headers.authorization).toBe("Bearer weather-secret");
    expect(JSON.parse(sent?.body ?? "")).toEqual({ q: "北京", n: 3, label: "city 北京" });

    const slow = await session.callTool("slow", { x: 1 });
    expect(slow.isError).toBe(true);
    expect(JSON.stringify(slow.content)).toMatch(/within 200 ms/);
    expect(http.requests.at(-1)).toMatchObject({ method: "GET", url: "/slow?x=1" });
    expect(http.requests.at(-1)?.headers["x-api-key"]).toBe("k1");

    const workflow = await session.callTool("workflow", { input: "你好" });
    expect(workflow).toMatchObject({ content: [{ type: "text", text: '{"output":"工作流完成"}' }] });
    expect(coze.requests[0]).toMatchObject({ method: "POST", url: "/v1/workflow/run" });
    expect(coze.requests[0]?.headers.authorization).toBe("Bearer coze-secret-token");
    expect(JSON.parse(coze.requests[0]?.body ?? "")).toEqual({
      workflow_id: "7500",
      parameters: { input: "你好" },
    });

    const listed = (await s.api("GET", "/api/tools")).body.tools as { name: string; unavailable?: string }[];
    expect(listed.find((t) => t.name === "script")?.unavailable).toMatch(
      /handler type "script" is not supported/,
    );
    expect(s.logs.some((line) => line.includes("custom tool unavailable"))).toBe(true);
    expect(s.logs.join("\n")).not.toMatch(/coze-secret-token|weather-secret/);

    // Hot reload reaches them like any service: the coze token goes, so does the tool.
    s.writeConfig({ ...s.readConfig(), platforms: {} });
    await s.untilHeld("a", (held) => held !== undefined && !held.includes("workflow"), 8000);
  });
});

describe("ModelScope services", () => {
  it("get modelscope.apiKey as a bearer token unless they set their own", async () => {
    const config = parseConfig({
      modelscope: { apiKey: "ms-secret" },
      mcpServers: {
        fetch: { type: "sse", url: "https://mcp.api-inference.modelscope.net/abc/sse" },
        cn: { url: "https://modelscope.cn/mcp" },
        own: { url: "https://x.modelscope.cn/mcp", headers: { authorization: "Bearer mine" } },
        other: { url: "https://example.com/mcp" },
        fake: { url: "https://modelscope.cn.evil.example/mcp" },
      },
    });
    const services = servicesOf(config) as Record<string, { headers?: Record<string, string> }>;
    expect(services.fetch?.headers).toEqual({ Authorization: "Bearer ms-secret" });
    expect(services.cn?.headers).toEqual({ Authorization: "Bearer ms-secret" });
    expect(services.own?.headers).toEqual({ authorization: "Bearer mine" });
    expect(services.other?.headers).toBeUndefined();
    expect(services.fake?.headers).toBeUndefined();

    // The header reaches the service: the same entry served from loopback.
    const fixture: string = "../../mcp-services/test/fixtures/http-calc.mjs";
    const { startHttpCalc } = (await import(fixture)) as {
      startHttpCalc(): Promise<{ url: string; calls: string[]; close(): Promise<void> }>;
    };
    const calc = await startHttpCalc();
    const manager = new McpServiceManager({
      fetch: { url: calc.url, headers: services.fetch?.headers ?? {} },
    });
    try {
      await manager.start();
      await manager.callTool("fetch__add", { a: 1, b: 2 }, { signal: AbortSignal.timeout(5000) });
      expect(calc.calls).toEqual(["Bearer ms-secret"]);
    } finally {
      await manager.stop();
      await calc.close();
    }
  });
});
