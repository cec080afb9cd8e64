import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// 230 endpoints: 225 that connect and 5 whose token the cloud refuses (they end failed).
const good = 225;
const refused = 5;
let cloud: SimulatedXiaozhiCloud | undefined;
let browser: Browser | undefined;
let server: RunningServer | undefined;
let config = "";
let env: Record<string, string> = {};

beforeAll(async () => {
  // Fixed handshake frames: 230 agents cost the cloud little.
  cloud = await SimulatedXiaozhiCloud.start({ relay: false, behavior: { driver: "handshake" } });
  for (let i = 0; i < refused; i++) cloud.configure(`refused-${i}`, { rejectStatus: 401 });
  const dir = mkdtempSync(join(tmpdir(), "xz-pages-"));
  config = join(dir, "xiaozhi.config.json");
  const endpoints = [
    ...Array.from({ length: good }, (_, i) => ({ url: cloud?.endpointUrl(`page-${i}`), name: `Agent ${i}` })),
    ...Array.from({ length: refused }, (_, i) => ({
      url: cloud?.endpointUrl(`refused-${i}`),
      name: `Refused ${i}`,
    })),
  ];
  writeFileSync(config, JSON.stringify({ mcpEndpoint: endpoints }));
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  server = await runServer(["--config", config, "--port", "0"], env, 60_000);
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

describe("the dashboard with many endpoints", () => {
  it("shows a page of rows under the counts of all, and finds endpoints by state and by text", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: "en-US" });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    // Every state a row of the table takes, as it happens.
    await page.addInitScript({
      content: `
        window.seen = [];
        new MutationObserver((records) => {
          for (const r of records) if (r.target.dataset?.id) window.seen.push(r.target.dataset.id + ":" + r.target.dataset.state);
        }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });`,
    });
    await page.goto(server.url);
    const rows = page.locator("#endpoints > tr:not(.details)");
    await expect
      .poll(() => page.locator("#endpoint-count").textContent(), { timeout: 20_000 })
      .toBe(`${good} of ${good + refused} connected`);
    // One page of a hundred, in list order, and the pager.
    expect(await rows.count()).toBe(100);
    expect(await rows.first().locator(".name").textContent()).toBe("Agent 0");
    expect(await page.locator("#page-range").textContent()).toBe("1–100 of 230");
    expect(await page.locator("#page-prev").isDisabled()).toBe(true);
    // From the keyboard: rows above the pager change height as their links come and go, and a
    // pointer click aimed at the button while they do can land on a row instead.
    await page.locator("#page-next").press("Enter");
    await expect.poll(() => page.locator("#page-range").textContent()).toBe("101–200 of 230");
    expect(await rows.first().locator(".name").textContent()).toBe("Agent 100");
    await page.locator("#page-next").press("Enter");
    await expect.poll(() => page.locator("#page-range").textContent()).toBe("201–230 of 230");
    expect(await rows.count()).toBe(30);
    expect(await page.locator("#page-next").isDisabled()).toBe(true);

    // The ones in trouble, whatever page they are on.
    await page.selectOption("#endpoint-state", "down");
    await expect.poll(() => rows.count()).toBe(refused);
    expect(await page.locator("#endpoint-pager").isHidden()).toBe(true);
    for (const state of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-state"))))
      expect(state).toBe("failed");
    // Text finds an agent by name; nothing found says so.
    await page.selectOption("#endpoint-state", "");
    await page.fill("#endpoint-search", "agent 117");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator(".name").textContent()).toBe("Agent 117");
    await page.fill("#endpoint-search", "nobody here");
    await expect.poll(() => page.locator("#no-match").isVisible()).toBe(true);
    expect(await rows.count()).toBe(0);

    // A drop on the page shown comes through live; one off the page changes only the counts.
    await page.fill("#endpoint-search", "");
    await expect.poll(() => rows.count()).toBe(100);
    const shown = endpointId(cloud?.endpointUrl("page-3") ?? "");
    const offPage = endpointId(cloud?.endpointUrl("page-150") ?? "");
    // Both are refused for a while, so the change lasts long enough to be seen.
    for (const token of ["page-3", "page-150"]) {
      cloud?.configure(token, { rejectStatus: 503 });
      cloud?.close(token, 4004, "Internal server error");
    }
    const seen = () => page.evaluate("window.seen") as Promise<string[]>;
    await expect
      .poll(async () => (await seen()).some((s) => s.startsWith(`${shown}:`) && !s.endsWith(":connected")), {
        timeout: 10_000,
      })
      .toBe(true);
    // 0: no refusal any more.
    for (const token of ["page-3", "page-150"]) cloud?.configure(token, { rejectStatus: 0 });
    await expect
      .poll(() => page.locator(`#endpoints tr[data-id="${shown}"]`).getAttribute("data-state"), {
        timeout: 20_000,
      })
      .toBe("connected");
    await expect
      .poll(() => page.locator("#endpoint-count").textContent(), { timeout: 20_000 })
      .toBe(`${good} of ${good + refused} connected`);
    expect(await rows.count()).toBe(100);
    expect((await seen()).some((s) => s.startsWith(`${offPage}:`))).toBe(false);

    // The server restarts on the same port: the page's new stream brings the first page first and
    // the rest in pieces, and the page shown stays the one the user was on.
    await page.locator("#page-next").press("Enter");
    await page.locator("#page-next").press("Enter");
    await expect.poll(() => page.locator("#page-range").textContent()).toBe("201–230 of 230");
    const port = new URL(server.url).port;
    expect(await stopServer(server)).toBe(0);
    await expect.poll(() => page.locator("#live").getAttribute("class"), { timeout: 10_000 }).toBe("off");
    server = await runServer(["--config", config, "--port", port], env, 60_000);
    await expect.poll(() => page.locator("#live").getAttribute("class"), { timeout: 30_000 }).toBe("on");
    await expect
      .poll(() => page.locator("#endpoint-count").textContent(), { timeout: 20_000 })
      .toBe(`${good} of ${good + refused} connected`);
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(30);
    expect(await page.locator("#page-range").textContent()).toBe("201–230 of 230");
    expect(await rows.first().locator(".name").textContent()).toBe("Agent 200");
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
