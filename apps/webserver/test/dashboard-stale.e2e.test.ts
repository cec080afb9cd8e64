import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// The dashboard while its WebServer is away: what it shows is greyed as out of date and its live
// counters stop, until the server is back and a new snapshot comes. The page's clock is Playwright's,
// so the test moves the page's time on by seconds without waiting for them.
let browser: Browser | undefined;
let server: RunningServer | undefined;

beforeAll(async () => {
  server = await runServer(["--port", "0"]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
});

describe("the dashboard while its server is down", () => {
  it("greys its lists and stops its counters, and brings both back with the server", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 390, height: 844 } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.clock.install();
    await page.goto(server.url);
    const live = page.locator("#live");
    const main = page.locator("main");
    const counters = page.locator("#endpoints td.countdown");
    await expect
      .poll(() => page.locator("#endpoints tr[data-state=connected]").count(), { timeout: 15_000 })
      .toBe(3);
    await expect.poll(() => live.getAttribute("class")).toBe("on");
    await expect.poll(() => counters.first().textContent()).toMatch(/^up \d+ s$/);
    expect((await main.getAttribute("class")) ?? "").not.toContain("stale");
    const opacity = () =>
      page
        .locator("section:has(#endpoints)")
        .evaluate((s) => s.ownerDocument.defaultView.getComputedStyle(s).opacity);
    expect(await opacity()).toBe("1");

    const port = new URL(server.url).port;
    expect(await stopServer(server)).toBe(0);
    server = undefined;
    await expect.poll(() => live.textContent(), { timeout: 10_000 }).toBe("reconnecting to server…");
    await expect.poll(async () => (await main.getAttribute("class")) ?? "").toContain("stale");
    expect(Number(await opacity())).toBeLessThan(1);
    // Five seconds of the page's time: the counters stand where they were.
    const before = await counters.allTextContents();
    await page.clock.runFor(5000);
    expect(await counters.allTextContents()).toEqual(before);

    // The server is back on the same port: a new snapshot, shown as current, counting again.
    server = await runServer(["--port", port]);
    // The page's retry waits on its own clock: run it on while waiting, whenever the retry was armed.
    await expect
      .poll(
        async () => {
          await page.clock.runFor(1000);
          return live.getAttribute("class");
        },
        { timeout: 30_000 },
      )
      .toBe("on");
    await expect.poll(async () => (await main.getAttribute("class")) ?? "").not.toContain("stale");
    expect(await opacity()).toBe("1");
    await expect
      .poll(() => page.locator("#endpoints tr[data-state=connected]").count(), { timeout: 15_000 })
      .toBe(3);
    const now = await counters.first().textContent();
    await page.clock.runFor(3000);
    expect(await counters.first().textContent()).not.toBe(now);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
