import { writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigFile } from "../src/config/config-file.js";
import { envReferences, resolveEnvRefs } from "../src/config/env-refs.js";
import { parseConfig } from "../src/config/schema.js";
import { finish, Stack, token } from "./harness.js";

// `${NAME}` in the config: the token stays in the environment, the file keeps the reference.
let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
  delete process.env.XZ_TOKEN_A;
  delete process.env.XZ_MISSING;
});

describe("environment references in the config", () => {
  it("connects with the variable's value, and the file keeps the reference through API adds and removes", async () => {
    process.env.XZ_TOKEN_A = token("a");
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] }, { envRefs: { a: "XZ_TOKEN_A" } });
    stack = s;
    expect(JSON.stringify(s.readConfig())).toContain("${XZ_TOKEN_A}");
    await s.until(() => s.sockets("a") === 1, 10_000, "the agent of XZ_TOKEN_A connected");
    const status = await s.api("GET", "/api/status");
    expect(status.body.config.fromEnv).toEqual([{ path: "mcpEndpoint[0]", variables: ["XZ_TOKEN_A"] }]);

    const added = await s.api("POST", "/api/endpoints", { url: s.url("b") });
    expect(added.status).toBe(201);
    expect((await s.api("DELETE", `/api/endpoints/${added.body.endpoint.id}`)).status).toBe(204);
    const kept = s.readConfig().mcpEndpoint as string[];
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/\?token=\$\{XZ_TOKEN_A\}$/);
    expect(JSON.stringify(s.readConfig())).not.toContain(token("a"));

    // The entry that is a reference is removed by the id of the endpoint it names.
    const listed = await s.api("GET", "/api/endpoints");
    const id = listed.body.endpoints[0].id as string;
    expect((await s.api("DELETE", `/api/endpoints/${id}`)).status).toBe(204);
    expect(s.readConfig().mcpEndpoint).toEqual([]);
  }, 30_000);

  it("rejects a config whose variable is not set, naming it: at start, and on a reload that keeps the running one", async () => {
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] });
    stack = s;
    const path = `${s.dir}/other.config.json`;
    writeFileSync(path, JSON.stringify({ mcpEndpoint: ["wss://api.xiaozhi.me/mcp/?token=${XZ_MISSING}"] }));
    await expect(new ConfigFile(path).load()).rejects.toThrow(
      /mcpEndpoint\[0\]: environment variable XZ_MISSING is not set/,
    );

    const checked = s.nextCheck();
    s.writeConfig({ mcpEndpoint: [s.url("a"), "wss://api.xiaozhi.me/mcp/?token=${XZ_MISSING}"] });
    await checked;
    await s.until(() => s.adapter.configStatus().lastError !== null, 5000, "the reload rejected");
    expect(s.adapter.configStatus().lastError).toMatch(
      /mcpEndpoint\[1\]: environment variable XZ_MISSING is not set/,
    );
    expect(s.adapter.endpoints().map((e) => e.connected)).toEqual([true]);
  }, 30_000);

  it("resolves every string, mixed with text, lets $${ through as a literal, and lists the references", () => {
    const env = { KEY: "k-123", HOST: "example.com" };
    const raw = {
      mcpServers: {
        maps: { type: "sse", url: "https://${HOST}/sse", headers: { Authorization: "Bearer ${KEY}" } },
        shell: { command: "echo", args: ["$${HOME}", "${KEY}"], env: { TOKEN: "${KEY}" } },
      },
      modelscope: { apiKey: "${KEY}" },
    };
    const config = parseConfig(raw, env);
    expect(config.mcpServers?.maps).toMatchObject({
      url: "https://example.com/sse",
      headers: { Authorization: "Bearer k-123" },
    });
    expect(config.mcpServers?.shell).toMatchObject({ args: ["${HOME}", "k-123"], env: { TOKEN: "k-123" } });
    expect(config.modelscope?.apiKey).toBe("k-123");
    expect(envReferences(raw).map((r) => `${r.path}: ${r.variables.join(",")}`)).toEqual([
      "mcpServers.maps.url: HOST",
      "mcpServers.maps.headers.Authorization: KEY",
      "mcpServers.shell.args[1]: KEY",
      "mcpServers.shell.env.TOKEN: KEY",
      "modelscope.apiKey: KEY",
    ]);
    // Every missing variable at once, never a value.
    expect(() => resolveEnvRefs({ a: "${NOPE}", b: ["${KEY}", "${ALSO_NOPE}"] }, env)).toThrow(
      "invalid config: a: environment variable NOPE is not set; b[1]: environment variable ALSO_NOPE is not set",
    );
  });
});
