import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CallToolResult,
  CallToolResultSchema,
  ProgressNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { finish, Stack, token } from "./harness.js";

// The official reference servers from npm, run as stdio services the way users configure them.
const bin = (name: string) =>
  join(import.meta.dirname, `../node_modules/@modelcontextprotocol/${name}/dist/index.js`);

let stack: Stack | undefined;
let files: string | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
  if (files) rmSync(files, { recursive: true, force: true });
  files = undefined;
});

describe("the reference MCP servers behind an endpoint", () => {
  it("lists no tool an agent cannot call, relays the everything server's progress, and cuts a big file", async () => {
    files = mkdtempSync(join(tmpdir(), "xz-files-"));
    writeFileSync(join(files, "big.txt"), "line of a big file\n".repeat(3000));
    stack = await Stack.start({
      mcpEndpoint: ["cloud:a"],
      mcpServers: {
        everything: { command: process.execPath, args: [bin("server-everything"), "stdio"] },
        files: { command: process.execPath, args: [bin("server-filesystem"), files] },
      },
    });
    const s = stack;
    await s.untilHeld("a", (held) => held?.some((name) => name.startsWith("files__")) === true, 20_000);
    await s.untilHeld("a", (held) => held?.some((name) => name.startsWith("everything__")) === true, 20_000);
    const { body } = await s.api("GET", "/api/tools");
    const tools = body.tools as { name: string; unavailable?: string }[];
    // The everything server has a tool that only runs as a task: known, shown as unavailable, never offered.
    expect(tools.find((t) => t.name === "everything__simulate-research-query")?.unavailable).toMatch(/task/);
    const held = s.held("a") ?? [];
    expect(held).not.toContain("everything__simulate-research-query");
    expect(held.filter((name) => tools.find((t) => t.name === name)?.unavailable !== undefined)).toEqual([]);
    expect(held).toContain("files__read_text_file");

    const agent = await s.cloud.waitForSession(token("a"));
    const frames: Record<string, unknown>[] = [];
    const sizes: number[] = [];
    agent.socket.on("message", (data: Buffer) => {
      sizes.push(data.length);
      frames.push(JSON.parse(data.toString("utf8")));
    });
    agent.client?.setNotificationHandler(ProgressNotificationSchema, () => {});
    const result = (await agent.client?.callTool(
      {
        name: "everything__trigger-long-running-operation",
        arguments: { duration: 0.3, steps: 3 },
        _meta: { progressToken: 99 },
      },
      CallToolResultSchema,
    )) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const progress = frames.filter((f) => f.method === "notifications/progress");
    expect(progress.map((f) => (f.params as { progress: number; progressToken: unknown }).progress)).toEqual([
      1, 2, 3,
    ]);
    expect(progress.every((f) => (f.params as { progressToken: unknown }).progressToken === 99)).toBe(true);
    expect(frames.findIndex((f) => "result" in f)).toBe(3);

    frames.length = 0;
    sizes.length = 0;
    const file = await agent.callTool("files__read_text_file", { path: join(files, "big.txt") });
    expect((file.content[0] as { text: string }).text).toMatch(
      /\[truncated: \d+ of 57000 bytes; dropped structured content\]$/,
    );
    expect(sizes[frames.findIndex((f) => "result" in f)]).toBeLessThanOrEqual(8192);
  }, 60_000);
});
