import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, describe, expect, it } from "vitest";
import { calcFixture, finish, mcpClient, Stack, token } from "./harness.js";

const editorToken = "editor-token-0123456789abcdefghij";

let stack: Stack | undefined;
let editor: Client | undefined;
afterEach(async () => {
  await editor?.close();
  editor = undefined;
  await finish(stack);
  stack = undefined;
});

interface Call {
  endpoint: string;
  tool: string;
  ok: boolean;
}

/**
 * Two agents and an MCP client call tools: agent a adds twice and calls a tool nobody offers,
 * agent b and the client add once each.
 */
async function start(): Promise<Stack> {
  const s = await Stack.start({
    mcpEndpoint: ["cloud:a", "cloud:b"],
    mcpServers: { calc: { command: process.execPath, args: [calcFixture] } },
    clients: [{ name: "editor", token: editorToken }],
  });
  stack = s;
  await s.untilHeld("a", (held) => held?.includes("calc__add") === true, 15_000);
  await s.untilHeld("b", (held) => held?.includes("calc__add") === true, 15_000);
  const a = await s.cloud.waitForSession(token("a"));
  const b = await s.cloud.waitForSession(token("b"));
  await a.callTool("calc__add", { a: 1, b: 2 });
  await a.callTool("calc__add", { a: 3, b: 4 });
  await a.callTool("nope__missing", {}).catch(() => {});
  await b.callTool("calc__add", { a: 5, b: 6 });
  editor = await mcpClient(s.base, editorToken);
  await editor.callTool({ name: "calc__add", arguments: { a: 7, b: 8 } });
  await s.until(() => s.adapter.history.calls().length >= 5, 5000, "five calls recorded");
  return s;
}

describe("GET /api/history?endpoint=", () => {
  it("takes an endpoint's id or its URL and answers with that endpoint's chart and calls only", async () => {
    const s = await start();
    const a = s.idOf("a");
    const byUrl = await s.api("GET", `/api/history?endpoint=${encodeURIComponent(s.url("a"))}`);
    expect(byUrl.status).toBe(200);
    expect(byUrl.body.endpoints.map((e: { id: string }) => e.id)).toEqual([a]);
    const calls = byUrl.body.calls as Call[];
    expect(calls.map((call) => [call.endpoint, call.tool, call.ok])).toEqual([
      [a, "(unknown tool)", false],
      [a, "calc__add", true],
      [a, "calc__add", true],
    ]);
    // The tools' statistics are every caller's: b's and the client's adds are counted.
    expect(byUrl.body.tools).toContainEqual(expect.objectContaining({ name: "calc__add", calls: 4 }));

    const byId = await s.api("GET", `/api/history?endpoint=${a}`);
    expect(byId.status).toBe(200);
    expect({ ...byId.body, endpoints: undefined }).toEqual({ ...byUrl.body, endpoints: undefined });
    expect(byId.body.endpoints.map((e: { id: string }) => e.id)).toEqual([a]);

    // Without a filter, everything: every caller's calls and the tools' statistics over them all.
    const all = await s.api("GET", "/api/history");
    expect((all.body.calls as Call[]).map((call) => call.endpoint).sort()).toEqual(
      [a, a, a, s.idOf("b"), "client:editor"].sort(),
    );
    expect(all.body.tools).toContainEqual(expect.objectContaining({ name: "calc__add", calls: 4 }));
  }, 30_000);

  it("answers an endpoint the server does not know with 404, naming it by id, never by URL", async () => {
    const s = await start();
    const unknown = await s.api("GET", "/api/history?endpoint=nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: "UNKNOWN_ENDPOINT", message: "no endpoint nope" } });

    const url = s.url("nobody");
    const byUrl = await s.api("GET", `/api/history?endpoint=${encodeURIComponent(url)}`);
    expect(byUrl.status).toBe(404);
    expect(byUrl.body.error.code).toBe("UNKNOWN_ENDPOINT");
    expect(byUrl.body.error.message).toMatch(/^no endpoint ep-[0-9a-f]{12}$/);
    expect(JSON.stringify(byUrl.body)).not.toContain(token("nobody"));

    const empty = await s.api("GET", "/api/history?endpoint=");
    expect(empty.status).toBe(400);
    expect(empty.body.error).toEqual({
      code: "BAD_REQUEST",
      message: "endpoint must be an endpoint id or URL",
    });
  }, 30_000);
});
