import { existsSync, watch } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CallToolResult,
  type Progress,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { calcFixture, finish, mcpClient, Stack } from "./harness.js";

const resultsFixture = join(import.meta.dirname, "../../mcp-services/test/fixtures/results-server.mjs");

const editorToken = "editor-token-0123456789abcdefghij";
const desktopToken = "desktop-token-0123456789abcdefghij";
const allToken = "all-tools-token-0123456789abcdefghij";

let stack: Stack | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
  await finish(stack);
  stack = undefined;
});

async function start(config: Record<string, unknown> = {}): Promise<Stack> {
  stack = await Stack.start({
    mcpEndpoint: ["cloud:a"],
    mcpServers: {
      calc: { command: process.execPath, args: [calcFixture] },
      res: { command: process.execPath, args: [resultsFixture] },
    },
    clients: [
      { name: "editor", token: editorToken, services: ["calc"] },
      { name: "desktop", token: desktopToken, tools: ["res__progress", "res__slow"] },
      { name: "all", token: allToken },
    ],
    ...config,
  });
  return stack;
}

async function connect(s: Stack, token: string): Promise<Client> {
  const client = await mcpClient(s.base, token);
  clients.push(client);
  return client;
}

const names = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();
const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe("/mcp for MCP clients", () => {
  it("gives each client only its set of tools, refuses calls outside it, and records calls under its name", async () => {
    const s = await start();
    const editor = await connect(s, editorToken);
    const desktop = await connect(s, desktopToken);
    expect(await names(editor)).toEqual(expect.arrayContaining(["calc__add"]));
    expect((await names(editor)).every((name) => name.startsWith("calc__"))).toBe(true);
    expect(await names(desktop)).toEqual(["res__progress", "res__slow"]);

    const sum = await editor.callTool({ name: "calc__add", arguments: { a: 2, b: 3 } });
    expect(sum.isError).not.toBe(true);
    expect(textOf(sum)).toBe("5");
    const refused = await desktop.callTool({ name: "calc__add", arguments: { a: 2, b: 3 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/Unknown tool: calc__add/);

    const history = await s.api("GET", "/api/history");
    const calls = history.body.calls as { endpoint: string; agent?: string; tool: string; ok: boolean }[];
    expect(calls).toContainEqual(
      expect.objectContaining({ endpoint: "client:editor", agent: "editor", tool: "calc__add", ok: true }),
    );
    const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/xiaozhi_tool_calls_total\{tool="calc__add",outcome="ok"\} 1/);
  }, 30_000);

  it("gives clients what agents get: custom tools under their own names, switched-off tools hidden", async () => {
    const s = await start({
      mcpServerConfig: { calc: { tools: { secret: { enable: false } } } },
      customMCP: {
        tools: [
          {
            name: "sum",
            description: "Adds two numbers",
            inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } },
            handler: { type: "mcp", config: { serviceName: "calc", toolName: "add" } },
          },
        ],
      },
    });
    const all = await connect(s, allToken);
    const listed = await names(all);
    expect(listed).toContain("sum");
    expect(listed).toContain("calc__add");
    expect(listed).not.toContain("calc__secret");
    const held = await s.untilHeld("a", (tools) => tools?.includes("sum") ?? false);
    expect(listed).toEqual((held ?? []).slice().sort());
    expect(textOf(await all.callTool({ name: "sum", arguments: { a: 2, b: 3 } }))).toBe("5");
    const off = await all.callTool({ name: "calc__secret", arguments: {} });
    expect(off.isError).toBe(true);
  }, 30_000);

  it("answers a wrong or missing token with 401 and WWW-Authenticate, and logs the attempt without it", async () => {
    const s = await start();
    const wrong = "wrong-token-0123456789abcdefghijkl";
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
    };
    for (const headers of [{ Authorization: `Bearer ${wrong}` }, {} as Record<string, string>]) {
      const response = await fetch(`${s.base}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify(initialize),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="xiaozhi-connect"/);
    }
    const client = new Client({ name: "intruder", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${s.base}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${wrong}` } },
    });
    await expect(client.connect(transport)).rejects.toThrow();
    expect(s.logs.some((line) => line.includes("MCP client refused"))).toBe(true);
    expect(s.logs.join("\n")).not.toContain(wrong);
    expect(s.logs.join("\n")).not.toContain(editorToken);
  }, 30_000);

  it("does not open itself to another origin: no CORS answer, a preflight refused, no token no entry", async () => {
    const s = await start();
    const preflight = await fetch(`${s.base}/mcp`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    // A simple cross-origin POST (no preflight) is refused for its origin, and nothing lets the page read it.
    const simple = await fetch(`${s.base}/mcp`, {
      method: "POST",
      headers: { Origin: "http://evil.example", "content-type": "text/plain" },
      body: "{}",
    });
    expect(simple.status).toBe(403);
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
  }, 30_000);

  it("is off (404) without configured clients", async () => {
    const s = await start({ clients: [] });
    const response = await fetch(`${s.base}/mcp`, {
      method: "POST",
      headers: { Authorization: `Bearer ${allToken}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(404);
  }, 30_000);

  it("tells a connected client when a service is added, and it lists the new tools", async () => {
    const s = await start();
    const all = await connect(s, allToken);
    expect(await names(all)).not.toContain("calc2__add");
    const changed = new Promise<void>((resolve) =>
      all.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    const added = await s.api("POST", "/api/services", {
      name: "calc2",
      config: { command: process.execPath, args: [calcFixture] },
    });
    expect(added.status).toBe(201);
    await changed;
    const deadline = Date.now() + 15_000;
    let listed = await names(all);
    // The list may change more than once while the service starts; each change is announced.
    while (!listed.includes("calc2__add") && Date.now() < deadline) {
      await new Promise<void>((resolve) =>
        all.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      listed = await names(all);
    }
    expect(listed).toContain("calc2__add");
  }, 30_000);

  it("relays the service's progress to the calling client", async () => {
    const s = await start();
    const desktop = await connect(s, desktopToken);
    const reports: Progress[] = [];
    const result = await desktop.callTool({ name: "res__progress", arguments: {} }, undefined, {
      onprogress: (progress) => reports.push(progress),
    });
    expect(textOf(result)).toBe("done");
    expect(reports.map((r) => r.progress)).toEqual([1, 2, 3]);
    expect(reports[2]).toMatchObject({ total: 3, message: "step 3" });
  }, 30_000);

  it("carries a client's cancellation to the service", async () => {
    const s = await start();
    const desktop = await connect(s, desktopToken);
    const mark = join(s.dir, "cancelled");
    const appears = (path: string) =>
      new Promise<void>((resolve) => {
        const watcher = watch(s.dir, () => {
          if (!existsSync(path)) return;
          watcher.close();
          resolve();
        });
      });
    const started = appears(`${mark}.started`);
    const arrived = appears(mark);
    const controller = new AbortController();
    const call = desktop.callTool({ name: "res__slow", arguments: { ms: 60_000, mark } }, undefined, {
      signal: controller.signal,
    });
    await started;
    controller.abort("the user closed the panel");
    await expect(call).rejects.toThrow();
    await arrived;
    expect(existsSync(mark)).toBe(true);
  }, 30_000);

  it("adds a client through the API with its token shown once, and a removed client is refused", async () => {
    const s = await start();
    const added = await s.api("POST", "/api/clients", { name: "cherry", tools: ["calc__add"] });
    expect(added.status).toBe(201);
    expect(added.body.client).toEqual({ name: "cherry", tools: ["calc__add"] });
    const token = added.body.token as string;
    expect(token).toMatch(/^[\w-]{32}$/);
    const stored = s.readConfig().clients as { name: string; token: string }[];
    expect(stored.at(-1)).toEqual({ name: "cherry", token, tools: ["calc__add"] });

    const listed = await s.api("GET", "/api/clients");
    expect(listed.body.clients).toEqual([
      { name: "editor", services: ["calc"] },
      { name: "desktop", tools: ["res__progress", "res__slow"] },
      { name: "all" },
      { name: "cherry", tools: ["calc__add"] },
    ]);
    for (const secret of [token, editorToken, desktopToken, allToken]) {
      expect(JSON.stringify(listed.body)).not.toContain(secret);
    }
    const cherry = await connect(s, token);
    expect(await names(cherry)).toEqual(["calc__add"]);

    expect((await s.api("POST", "/api/clients", { name: "cherry" })).status).toBe(409);
    const bad = await s.api("POST", "/api/clients", { name: "not a name!" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/name/);
    expect((await s.api("POST", "/api/clients", { name: "x", tools: "calc__add" })).status).toBe(400);

    expect((await s.api("DELETE", "/api/clients/cherry")).status).toBe(204);
    expect((s.readConfig().clients as { name: string }[]).map((c) => c.name)).toEqual([
      "editor",
      "desktop",
      "all",
    ]);
    await expect(cherry.listTools()).rejects.toThrow();
    const refused = await fetch(`${s.base}/mcp`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(refused.status).toBe(401);
    expect((await s.api("DELETE", "/api/clients/cherry")).status).toBe(404);
  }, 30_000);

  it("closes its sessions when the routes close", async () => {
    const s = await start();
    await connect(s, editorToken);
    await connect(s, desktopToken);
    expect(s.routes?.mcp.sessions).toBe(2);
    await s.routes?.mcp.close();
    expect(s.routes?.mcp.sessions).toBe(0);
  }, 30_000);
});
