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

describe("tool-call metrics by caller", () => {
  it("counts agents' and MCP clients' calls under their own names, beside the counts by tool", async () => {
    const s = await Stack.start({
      mcpEndpoint: [{ url: "cloud:a", name: "kitchen" }],
      mcpServers: { calc: { command: process.execPath, args: [calcFixture] } },
      clients: [{ name: "editor", token: editorToken }],
    });
    stack = s;
    await s.untilHeld("a", (held) => held?.includes("calc__add") === true, 15_000);
    const agent = await s.cloud.waitForSession(token("a"));
    await agent.callTool("calc__add", { a: 1, b: 2 });
    await agent.callTool("nope__missing", {}).catch(() => {});
    editor = await mcpClient(s.base, editorToken);
    await editor.callTool({ name: "calc__add", arguments: { a: 3, b: 4 } });
    await s.until(() => s.adapter.history.calls().length >= 3, 5000, "three calls recorded");

    const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
    s.responses.push(metrics);
    const a = s.idOf("a");
    expect(metrics).toContain(
      `xiaozhi_caller_tool_calls_total{endpoint="${a}",name="kitchen",outcome="ok"} 1`,
    );
    expect(metrics).toContain(
      `xiaozhi_caller_tool_calls_total{endpoint="${a}",name="kitchen",outcome="error"} 1`,
    );
    expect(metrics).toContain(
      'xiaozhi_caller_tool_calls_total{endpoint="client:editor",name="editor",outcome="ok"} 1',
    );
    // The counts by tool keep their labels: a scrape's existing series stay as they were.
    expect(metrics).toContain('xiaozhi_tool_calls_total{tool="calc__add",outcome="ok"} 2');
  }, 30_000);
});
