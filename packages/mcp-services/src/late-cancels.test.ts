import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { withoutLateCancels } from "./late-cancels.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** A real SDK client and server over an in-memory pair, the client's side wrapped; records what the server receives. */
async function pair() {
  const server = new McpServer({ name: "s", version: "1.0.0" });
  const started: (() => void)[] = [];
  let cancelledInTool = 0;
  server.registerTool("quick", { description: "answers at once" }, () => ({
    content: [{ type: "text", text: "ok" }],
  }));
  server.registerTool("slow", { description: "waits until cancelled" }, (extra) => {
    for (const go of started.splice(0)) go();
    return new Promise((resolve) =>
      extra.signal.addEventListener("abort", () => {
        cancelledInTool++;
        resolve({ content: [{ type: "text", text: "cancelled" }] });
      }),
    );
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const received: JSONRPCMessage[] = [];
  await server.connect(serverSide);
  const deliver = serverSide.onmessage;
  serverSide.onmessage = (message, extra) => {
    received.push(message);
    deliver?.(message, extra);
  };
  const client = new Client({ name: "c", version: "1.0.0" });
  await client.connect(withoutLateCancels(clientSide));
  close = async () => {
    await client.close();
    await server.close();
  };
  const cancels = () => received.filter((m) => "method" in m && m.method === "notifications/cancelled");
  const running = () => new Promise<void>((resolve) => started.push(resolve));
  return { client, cancels, running, cancelledInTool: () => cancelledInTool };
}

describe("withoutLateCancels", () => {
  it("sends no cancellation for a call whose signal aborts after its answer came", async () => {
    const { client, cancels } = await pair();
    const controller = new AbortController();
    expect(await client.callTool({ name: "quick" }, undefined, { signal: controller.signal })).toMatchObject({
      content: [{ text: "ok" }],
    });
    controller.abort();
    // A second call's round trip: anything the abort sent has arrived by its answer.
    await client.callTool({ name: "quick" });
    expect(cancels()).toEqual([]);
  });

  it("still cancels a call under way, once", async () => {
    const { client, cancels, running, cancelledInTool } = await pair();
    const controller = new AbortController();
    const inTool = running();
    const call = client.callTool({ name: "slow" }, undefined, { signal: controller.signal });
    await inTool;
    controller.abort(new Error("gave up"));
    await expect(call).rejects.toThrow("gave up");
    await client.callTool({ name: "quick" });
    expect(cancels()).toHaveLength(1);
    expect(cancelledInTool()).toBe(1);
  });
});
