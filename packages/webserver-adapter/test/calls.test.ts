import { join } from "node:path";
import {
  type CallToolResult,
  CallToolResultSchema,
  ProgressNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { CloudSession } from "@xiaozhi-connect/transport-ws/testing";
import { afterEach, describe, expect, it } from "vitest";
import { finish, Stack, token } from "./harness.js";

const fixtures = join(import.meta.dirname, "../../mcp-services/test/fixtures");
const resultsFixture = join(fixtures, "results-server.mjs");

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const service = { command: process.execPath, args: [resultsFixture] };

/** Every frame the agent of `session` receives, as the bytes that came off its socket. */
function framesOf(session: CloudSession): { bytes: number; frame: Record<string, unknown> }[] {
  const frames: { bytes: number; frame: Record<string, unknown> }[] = [];
  session.socket.on("message", (data: Buffer) => {
    frames.push({ bytes: data.length, frame: JSON.parse(data.toString("utf8")) });
  });
  return frames;
}

const textOf = (result: CallToolResult) => (result.content[0] as { text: string }).text;

async function start(config: Record<string, unknown> = {}) {
  const started = await Stack.start({
    mcpEndpoint: ["cloud:a", "cloud:b"],
    mcpServers: { res: service },
    ...config,
  });
  stack = started;
  await started.untilHeld("a", (held) => held?.includes("res__big") === true, 15_000);
  await started.untilHeld("b", (held) => held?.includes("res__big") === true, 15_000);
  const a = await started.cloud.waitForSession(token("a"));
  const b = await started.cloud.waitForSession(token("b"));
  return { stack: started, a, b };
}

const restarts = (target: Stack) => target.adapter.services().find((s) => s.name === "res")?.restarts;

describe("calls that fit what Xiaozhi accepts", () => {
  it("cuts a 50,000-byte result to a message of at most 8,192 bytes that says so, and counts the cut", async () => {
    const { stack: s, a } = await start();
    const frames = framesOf(a);
    const before = restarts(s);
    const result = await a.callTool("res__big", { bytes: 50_000 });
    const answer = frames.find(({ frame }) => "result" in frame);
    expect(answer?.bytes).toBeLessThanOrEqual(8192);
    expect(answer?.bytes).toBeGreaterThan(7000);
    expect(result.content).toHaveLength(1);
    expect(textOf(result)).toMatch(
      /^x+\n\[truncated: \d+ of 50000 bytes; dropped 1 image, structured content\]$/,
    );
    expect(result.structuredContent).toBeUndefined();
    expect(restarts(s)).toBe(before);
    // Counted where a user looks: the metric by tool and the recent-calls list.
    const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/xiaozhi_tool_results_truncated_total\{tool="res__big"\} 1/);
    const history = await s.api("GET", "/api/history");
    const call = history.body.calls.find((c: { tool: string }) => c.tool === "res__big");
    expect(call.truncated.from).toBeGreaterThan(100_000);
    expect(call.truncated.to).toBe(answer?.bytes);
  }, 30_000);

  it("notes a cut in Chinese when the result is Chinese, and honours an endpoint's own bound", async () => {
    const { a, b } = await start({
      mcpEndpoint: ["cloud:a", { url: "cloud:b", maxResultBytes: 1024 }],
      connection: { maxResultBytes: 4096 },
    });
    const framesA = framesOf(a);
    const framesB = framesOf(b);
    const cut = await a.callTool("res__chinese", { bytes: 10_000 });
    expect(textOf(cut)).toMatch(/\[已截断：保留 \d+ \/ 共 \d+ 字节\]$/);
    expect(framesA.find(({ frame }) => "result" in frame)?.bytes).toBeLessThanOrEqual(4096);
    await b.callTool("res__big", { bytes: 5000 });
    expect(framesB.find(({ frame }) => "result" in frame)?.bytes).toBeLessThanOrEqual(1024);
    // Small results go through untouched, images and all.
    const whole = await a.callTool("res__big", { bytes: 10 });
    expect(whole.content).toHaveLength(2);
    expect(whole.structuredContent).toEqual({ text: "x".repeat(10) });
  }, 30_000);

  it("ends a 20 MB result with an error naming its size, keeps the service, and the next call succeeds", async () => {
    const { stack: s, a } = await start({ connection: { maxResultBytes: 0 } });
    const before = restarts(s);
    // The agent's own deadline of 10 s: the answer comes well within it.
    const result = await a.callTool("res__big", { bytes: 20_000_000 }, { timeout: 10_000 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/result too large: \d{8} bytes, past the 8388608-byte bound/);
    expect(textOf(result)).not.toMatch(/Connection closed/);
    const next = await a.callTool("res__big", { bytes: 10 });
    expect(next.isError).toBeUndefined();
    expect(textOf(next)).toBe("x".repeat(10));
    expect(restarts(s)).toBe(before);
  }, 30_000);

  it("relays progress to the calling agent only, in order, under its own token, before the result", async () => {
    const { a, b } = await start();
    const framesA = framesOf(a);
    const framesB = framesOf(b);
    // The agent's token is its own, not one its SDK client made up: the frames are read as they came.
    a.client?.setNotificationHandler(ProgressNotificationSchema, () => {});
    const result = await a.client?.callTool(
      { name: "res__progress", arguments: {}, _meta: { progressToken: "agent-a-token" } },
      CallToolResultSchema,
    );
    expect(result?.content).toEqual([{ type: "text", text: "done" }]);
    // Three reports, in order, under the agent's token, and then the result.
    expect(
      framesA.map(({ frame }) => frame.params ?? "result"),
      JSON.stringify(framesA),
    ).toEqual([
      ...[1, 2, 3].map((step) => ({
        progressToken: "agent-a-token",
        progress: step,
        total: 3,
        message: `step ${step}`,
      })),
      "result",
    ]);
    // The other agent calls too, without a token: it hears no one's progress.
    await b.callTool("res__progress");
    expect(framesB.filter(({ frame }) => frame.method === "notifications/progress")).toEqual([]);
  }, 30_000);

  it("passes isError through, keeps cancellation, and applies a tool's own timeout", async () => {
    const { a } = await start({
      mcpServerConfig: { res: { tools: { slow: { timeout: 200 } } } },
    });
    const failed = await a.callTool("res__fail");
    expect(failed).toEqual({ content: [{ type: "text", text: "the tool failed" }], isError: true });
    const slow = await a.callTool("res__slow", { ms: 60_000 });
    expect(slow.isError).toBe(true);
    expect(textOf(slow)).toMatch(/timed out after 200 ms/);
    const controller = new AbortController();
    const cancelled = a.callTool("res__who", {}, { signal: controller.signal });
    controller.abort(new Error("the agent gave up"));
    await expect(cancelled).rejects.toThrow(/gave up/);
  }, 30_000);

  it("tells a tool which agent calls, in _meta, and leaves its arguments alone", async () => {
    const {
      stack: s,
      a,
      b,
    } = await start({
      mcpEndpoint: [{ url: "cloud:a", name: "kitchen" }, "cloud:b"],
      mcpServers: {
        res: service,
        rooms: { command: process.execPath, args: [join(fixtures, "caller-aware-server.mjs")] },
      },
    });
    const fromA = await a.client?.callTool({
      name: "res__who",
      arguments: { room: "kitchen" },
      _meta: { agentId: 4242 },
    });
    const seenA = JSON.parse(textOf(fromA as CallToolResult));
    expect(seenA).toEqual({
      meta: { endpointId: s.idOf("a"), name: "kitchen", agentId: 4242 },
      args: { room: "kitchen" },
    });
    const seenB = JSON.parse(textOf(await b.callTool("res__who")));
    expect(seenB.meta.endpointId).toBe(s.idOf("b"));
    expect(seenB.meta.agentId).toBeUndefined();
    // The documented example service answers per agent.
    await s.untilHeld("a", (held) => held?.includes("rooms__where") === true, 15_000);
    const where = await a.client?.callTool({
      name: "rooms__where",
      arguments: {},
      _meta: { agentId: "9001" },
    });
    expect(textOf(where as CallToolResult)).toBe("You are in the kitchen (agent 9001).");
    expect(textOf(await b.callTool("rooms__where"))).toBe("You are in somewhere.");
  }, 30_000);

  it("hides tools that require task-based execution from agents, and says why in /api/tools", async () => {
    const { stack: s } = await start();
    expect(s.held("a")).not.toContain("res__research");
    expect(s.held("a")).toContain("res__maybe-task");
    const { body } = await s.api("GET", "/api/tools");
    const research = body.tools.find((t: { name: string }) => t.name === "res__research");
    expect(research.unavailable).toMatch(/task-based execution/);
    expect(research.enabled).toBe(true);
  }, 30_000);
});
