import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { flushed } from "../src/flush.js";
import { runCli } from "./run-server.js";

// A long output piped to another program (`| grep`, `| jq`, a script) arrives whole: into a pipe,
// stdout is written asynchronously, and the command used to exit before it had left.
describe("the command's output into a pipe", () => {
  it("arrives whole: every endpoint of a long list, as JSON that parses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-pipe-"));
    const urls = Array.from(
      { length: 4000 },
      (_, i) => `ws://127.0.0.1:1/mcp/?token=pipe-${i}-${"x".repeat(24)}`,
    );
    writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify({ mcpEndpoint: urls }));
    const env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state") };
    const { code, out } = await runCli(["endpoint", "list", "--json"], env, dir);
    expect(code).toBe(0);
    // Far past a pipe's 64 KiB buffer.
    expect(out.length).toBeGreaterThan(400_000);
    expect((JSON.parse(out) as unknown[]).length).toBe(4000);
    expect(out).not.toContain("pipe-0-");
  });

  it("waits for a slow reader, and not for one that went away", async () => {
    const slow = new PassThrough({ highWaterMark: 16 });
    slow.write("x".repeat(1024));
    let settled = false;
    const waiting = flushed([slow]).then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    slow.resume();
    await waiting;
    expect(settled).toBe(true);
    const gone = new PassThrough({ highWaterMark: 16 });
    gone.write("x".repeat(1024));
    const ended = flushed([gone]);
    gone.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    await ended;
  });
});
