import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

const output = join(import.meta.dirname, "../test-output");
let browser: Browser | undefined;
let server: RunningServer | undefined;

beforeAll(async () => {
  // Demo mode, as a newcomer starts it; the flaky endpoint drops every 1.5 s so the test sees it.
  server = await runServer(["--port", "0"], { XIAOZHI_DEMO_FLAKY_MS: "1500" });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
});

describe("the dashboard in headless Chromium", () => {
  it("shows the demo, adds and removes an endpoint, and follows a flaky link live", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const page = await browser.newPage({ viewport: { width: 1360, height: 820 }, locale: "en-US" });
    // Removing asks first; the test answers yes.
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    // Record every state any row shows, to see changes that arrive over the event stream.
    await page.addInitScript({
      content: `
        window.seen = [];
        new MutationObserver(() => {
          for (const row of document.querySelectorAll("#endpoints tr")) window.seen.push(row.dataset.id + ":" + row.dataset.state);
        }).observe(document, { subtree: true, childList: true });`,
    });
    await page.goto(server.url);
    const rows = page.locator("#endpoints tr");
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    await expect.poll(() => page.locator("#live").textContent()).toBe("live");
    await expect.poll(() => page.locator("#tools tr[data-tool]").count()).toBe(2);

    // A fourth endpoint on the same simulated cloud, added through the form.
    const shown = (await rows.first().locator(".url").textContent()) ?? "";
    const fourth = `${shown.split("?")[0]}?token=dashboard-fourth-endpoint`;
    const id = endpointId(fourth);
    await page.fill("#add-url", fourth);
    await page.click("#add-button");
    const added = page.locator(`#endpoints tr[data-id="${id}"]`);
    await expect.poll(() => added.getAttribute("data-state"), { timeout: 10_000 }).toBe("connected");
    expect(await rows.count()).toBe(4);
    expect(await added.locator(".url").textContent()).toMatch(/token=<masked:[0-9a-f]{6}>$/);

    mkdirSync(output, { recursive: true });
    await page.screenshot({ path: join(output, "dashboard.png"), fullPage: true });

    await added.locator('button[data-action="remove"]').click();
    await expect.poll(() => added.count(), { timeout: 10_000 }).toBe(0);
    expect(dialogs).toEqual([
      expect.stringMatching(
        /^Remove 127\.0\.0\.1 \(ws:\/\/127\.0\.0\.1:\d+\/mcp\/\?token=<masked:[0-9a-f]{6}>\)\?/,
      ),
    ]);
    expect(await rows.count()).toBe(3);

    // The flaky endpoint's drop arrives live: some row leaves "connected" and comes back.
    await expect
      .poll(
        async () => {
          const seen = (await page.evaluate("window.seen")) as string[];
          return seen.some((s) => /:(reconnecting|connecting|disconnected)$/.test(s));
        },
        { timeout: 15_000 },
      )
      .toBe(true);

    const html = await page.content();
    expect(html).not.toMatch(/token=(demo-|dashboard-fourth)/);
    expect(await page.locator("h2 [data-i18n=endpoints]").textContent()).toBe("Endpoints");
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("speaks Simplified Chinese to a Chinese browser, switches language and remembers it", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1360, height: 820 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(server.url);
    await expect.poll(() => page.locator("#endpoints tr").count(), { timeout: 10_000 }).toBe(3);
    expect(await page.getAttribute("html", "lang")).toBe("zh-CN");
    expect(await page.locator("h2 [data-i18n=endpoints]").textContent()).toBe("接入点");
    expect(await page.locator("#add-button").textContent()).toBe("添加接入点");
    await expect.poll(() => page.locator("#live").textContent()).toBe("实时");
    await expect.poll(() => page.locator("#endpoints .state.connected").first().textContent()).toBe("已连接");
    // A product error code, shown in Chinese.
    await page.fill("#add-url", "<请填写接入点>");
    await page.click("#add-button");
    await expect.poll(() => page.locator("#form-error").textContent()).toMatch(/^接入点地址无效/);
    mkdirSync(output, { recursive: true });
    await page.screenshot({ path: join(output, "dashboard.zh-CN.png"), fullPage: true });

    // Switched to English, it stays English after a reload, whatever the browser says.
    await page.selectOption("#lang", "en");
    expect(await page.locator("#add-button").textContent()).toBe("Add endpoint");
    await page.reload();
    await expect.poll(() => page.locator("#endpoints tr").count(), { timeout: 10_000 }).toBe(3);
    expect(await page.locator("#add-button").textContent()).toBe("Add endpoint");
    expect(await page.getAttribute("html", "lang")).toBe("en");
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});
