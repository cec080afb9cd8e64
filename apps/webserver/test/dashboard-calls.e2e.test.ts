import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// What a user sees of results cut to fit and of tools that cannot be called, in headless Chromium,
// against the server with a real stdio service and a simulated Xiaozhi cloud playing the agent.
const results = join(import.meta.dirname, "../../../packages/mcp-services/test/fixtures/results-server.mjs");
let browser: Browser | undefined;
let server: RunningServer | undefined;
let cloud: SimulatedXiaozhiCloud | undefined;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  const dir = mkdtempSync(join(tmpdir(), "xz-dash-calls-"));
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: [{ url: cloud.endpointUrl("hall-token"), name: "hall", maxResultBytes: 1024 }],
      mcpServers: { res: { command: process.execPath, args: [results] } },
    }),
  );
  server = await runServer(["--config", config, "--port", "0"]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

describe("cut results and uncallable tools on the dashboard", () => {
  it("marks a cut call in the recent calls and says why a task-only tool is unavailable", async () => {
    if (!browser || !server || !cloud) throw new Error("setup failed");
    await cloud.untilTools("hall-token", (held) => held?.includes("res__big") === true, 15_000);
    for (const [made, locale] of ["en-US", "zh-CN"].entries()) {
      const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale });
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(error.message));
      await page.goto(server.url);
      await expect.poll(() => page.locator("#live").count(), { timeout: 10_000 }).toBe(1);
      const research = page.locator('#tools tr[data-tool="res__research"] .tstate');
      await expect
        .poll(() => research.textContent(), { timeout: 10_000 })
        .toMatch(locale === "en-US" ? /unavailable.*runs only as a task/ : /不可用.*只能以任务方式运行/);
      const session = await cloud.waitForSession("hall-token");
      await session.callTool("res__big", { bytes: 5000 });
      // The first locale's cut call is in the list too: this one is the newest, on top.
      await expect.poll(() => page.locator("#calls tr .badge.cut").count()).toBe(made + 1);
      const badge = page.locator("#calls tr").first().locator(".badge.cut");
      await expect.poll(() => badge.textContent()).toBe(locale === "en-US" ? "cut" : "已截断");
      expect(await badge.getAttribute("title")).toMatch(/→ \d+/);
      expect(problems).toEqual([]);
      await page.close();
    }
  }, 60_000);
});
