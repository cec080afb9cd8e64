import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SharedToolServer } from "../src/internal.js";
import { TestTools } from "./helpers.js";
import { closePairs, pair } from "./socket-pair.js";

// An SDK release in which neither member the tool server reaches for is where it was.
vi.mock("@xiaozhi-connect/sdk-bridge", async (original) => ({
  ...(await original<typeof import("@xiaozhi-connect/sdk-bridge")>()),
  requestDispatch: () => undefined,
  setBaseRequestHandler: (server: Server, schema: never, handler: never) =>
    server.setRequestHandler(schema, handler),
}));

afterEach(closePairs);

describe("SharedToolServer on the SDK's public paths only", () => {
  it("serves calls, refuses bad frames, and cancels, as on the paths it prefers", async () => {
    const server = new SharedToolServer({
      serverInfo: { name: "t", version: "1" },
      callTimeout: 5000,
      toolsWait: 0,
    });
    const tools = new TestTools();
    const [a, b] = [await pair(server, tools), await pair(server, tools)];
    if (!a || !b) throw new Error("no pair");
    const sum = a.answer(1);
    const echo = b.answer(1);
    a.send({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "calc__add", arguments: { a: 2, b: 3 } },
    });
    b.send({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "calc__echo", arguments: { text: "b" } },
    });
    expect(await sum).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "5" }] } });
    expect(await echo).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "b" }] } });

    for (const [frame, code] of [
      [{ jsonrpc: "2.0", id: 2, method: "tools/call", params: { arguments: {} } }, -32602],
      [{ jsonrpc: "2.0", id: 3, method: "resources/list" }, -32601],
      [{ jsonrpc: "2.0", id: 1.5, method: "ping" }, -32600],
    ] as const) {
      const answer = a.next();
      a.send(frame);
      const refused = (await answer) as { error: { code: number; message: string } };
      expect(refused.error.code, JSON.stringify(frame)).toBe(code);
      expect(refused.error.message).not.toContain("\n");
    }

    a.send({ jsonrpc: "2.0", id: "w", method: "tools/call", params: { name: "slow__wait", arguments: {} } });
    await tools.started(3);
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "w" } });
    await tools.cancelled(1);
    const probe = a.answer("probe");
    a.send({ jsonrpc: "2.0", id: "probe", method: "ping" });
    expect(await probe).toEqual({ jsonrpc: "2.0", id: "probe", result: {} });
    expect(server.pending).toBe(0);
    expect(a.peer.readyState).toBe(a.peer.OPEN);
  });
});
