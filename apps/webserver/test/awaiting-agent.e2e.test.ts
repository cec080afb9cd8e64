import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  launchChromium,
  type RunningServer,
  runCli,
  spawnServer,
  stopServer,
  waitForOutput,
} from "./run-server.js";

// A link that is open but that no agent has initialized (a relay whose agent has not come, or a
// cloud that never sends `initialize`) holds no tools: the status and the dashboard say so rather
// than show it as any other connected link.
const agent = "talking-agent-token";
const quiet = "quiet-agent-token";
let cloud: SimulatedXiaozhiCloud | undefined;
let server: RunningServer | undefined;
let browser: Browser | undefined;
let dir = "";
let env: Record<string, string> = {};

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  cloud.configure(quiet, { driver: "raw" });
  dir = mkdtempSync(join(tmpdir(), "xz-awaiting-"));
  mkdirSync(join(dir, "state"));
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: [
        { url: cloud.endpointUrl(agent), name: "kitchen" },
        { url: cloud.endpointUrl(quiet), name: "hallway" },
      ],
    }),
  );
  const started = spawnServer(["--config", config, "--port", "0"], env, dir);
  const ready = /ready: dashboard (\S+)/;
  await waitForOutput(started, ready, 30_000);
  server = { ...started, url: (ready.exec(started.stdout())?.[1] ?? "").replace(/#.*$/, "") };
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

describe("a link no agent has initialized", () => {
  it("is shown as connected and waiting for an agent, in the status and on the dashboard", async () => {
    if (!cloud || !server || !browser) throw new Error("setup failed");
    await (await cloud.waitForSession(agent, 10_000)).ready;
    await cloud.waitForSession(quiet, 10_000);
    const endpoints = async () =>
      (
        (await (await fetch(new URL("/api/endpoints", server?.url))).json()) as {
          endpoints: { name: string; state: string; initialized: boolean }[];
        }
      ).endpoints;
    // Open links count as connected after a second without `initialize`.
    await expect
      .poll(async () => (await endpoints()).map((e) => [e.name, e.state, e.initialized]), { timeout: 10_000 })
      .toEqual([
        ["kitchen", "connected", true],
        ["hallway", "connected", false],
      ]);

    const status = await runCli(["status"], env, dir);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(/hallway .*connected, waiting for an agent/);
    expect(status.out).not.toMatch(/kitchen .*waiting/);
    const chinese = await runCli(["status", "--lang", "zh-CN"], env, dir);
    expect(chinese.out).toMatch(/hallway .*已连接，等待智能体/);

    const page = await browser.newPage({ locale: "en-US" });
    await page.goto(server.url);
    const hallway = page.locator("#endpoints tr", { hasText: "hallway" }).locator("td.state, .state").first();
    await expect
      .poll(() => hallway.textContent(), { timeout: 10_000 })
      .toBe("connected, waiting for an agent");
    expect(await hallway.getAttribute("class")).toContain("awaitingAgent");
    const kitchen = page.locator("#endpoints tr", { hasText: "kitchen" }).locator("td.state, .state").first();
    expect(await kitchen.textContent()).toBe("connected");
    await page.close();
  }, 60_000);
});
