import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTools, launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// What a Chinese user met on a 390 × 844 phone: reasons in English, the changes list standing still,
// a reconnect with no answer, figures that read wrong, and parts too small or cut short. A simulated
// Xiaozhi cloud plays the agents; one of them has a token the cloud refuses with HTTP 401.
const output = join(import.meta.dirname, "../test-output");
let browser: Browser | undefined;
let server: RunningServer | undefined;
let cloud: SimulatedXiaozhiCloud | undefined;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  cloud.configure("locked-token", { rejectStatus: 401 });
  const dir = mkdtempSync(join(tmpdir(), "xz-phone-"));
  const configPath = join(dir, "xiaozhi.config.json");
  const config = {
    mcpEndpoint: [
      { url: cloud.endpointUrl("kitchen-token"), name: "厨房" },
      { url: cloud.endpointUrl("locked-token"), name: "门锁" },
    ],
    mcpServers: {
      demo: { command: "node", args: [demoTools, "--a-long-argument", "--another-one"] },
      broken: { command: process.execPath, args: ["-e", "process.exit(1)"] },
    },
    connection: { heartbeatInterval: 500, heartbeatTimeout: 3000 },
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  server = await runServer(["--config", configPath, "--port", "0"]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

const pageErrors = new WeakMap<Page, string[]>();

/** The dashboard on a phone in `locale`, once both agents and both services have settled. */
async function open(locale = "zh-CN"): Promise<Page> {
  if (!browser || !server) throw new Error("setup failed");
  const context = await browser.newContext({
    locale,
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  pageErrors.set(page, problems);
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(server.url);
  const rows = page.locator("#endpoints tr[data-id]");
  await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
  await expect.poll(() => locked(page).getAttribute("data-state"), { timeout: 15_000 }).toBe("failed");
  await expect
    .poll(() => page.locator('#services tr[data-service="broken"]').getAttribute("data-state"), {
      timeout: 15_000,
    })
    .toBe("down");
  await expect.poll(() => page.locator("#audit li").count(), { timeout: 10_000 }).toBeGreaterThan(0);
  return page;
}

async function close(page: Page): Promise<void> {
  expect(pageErrors.get(page)).toEqual([]);
  await page.context().close();
}

const locked = (page: Page) => page.locator('#endpoints tr[data-state="failed"]');
const auditLines = (page: Page, text: string) => page.locator("#audit li", { hasText: text });
const fontSize = (node: Locator) =>
  node.evaluate((e) => e.ownerDocument.defaultView.getComputedStyle(e).fontSize);

describe("the dashboard on a Chinese phone", () => {
  it("explains a Chinese client name in Chinese, and the name field says which characters it takes", async () => {
    const page = await open();
    expect(await page.locator("#client-name").getAttribute("placeholder")).toContain(". - _");
    await page.fill("#client-name", "手机测试");
    await page.click("#client-add");
    const error = page.locator("#client-error");
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toMatch(/^配置无效：/);
    const text = (await error.textContent()) ?? "";
    expect(text).not.toMatch(/[A-Za-z]/);
    expect(text).toContain("英文字母");
    await page.selectOption("#lang", "en");
    expect(await page.locator("#client-name").getAttribute("placeholder")).toContain(". - _");
    await close(page);
  }, 60_000);

  it("shows a new client's command as code that breaks only between its arguments", async () => {
    const page = await open();
    const name = "cursor-on-a-rather-long-client-name";
    await page.fill("#client-name", name);
    await page.click("#client-add");
    const command = page.locator("#client-how code.command");
    await expect.poll(() => command.count(), { timeout: 10_000 }).toBe(1);
    expect(await command.textContent()).toBe(`xiaozhi-connect stdio --client ${name}`);
    // Each argument is on one line, and nothing reaches past the screen.
    const lines = await command.evaluate((code) =>
      [...code.children].map((arg) => {
        const range = arg.ownerDocument.createRange();
        range.selectNodeContents(arg);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      }),
    );
    expect(lines).toEqual([1, 1, 1, 1]);
    const box = await command.boundingBox();
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(390);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    mkdirSync(output, { recursive: true });
    await page.locator("#client-new").screenshot({ path: join(output, "client-how-phone.zh-CN.png") });
    await close(page);
  }, 60_000);

  it("answers a tap on 重连, adds it to the changes at once under the agent's name, or says why it failed", async () => {
    const page = await open();
    const card = locked(page);
    const id = (await card.getAttribute("data-id")) ?? "";
    // A rejected token is tried again in a few minutes, and the card counts down to it.
    await expect.poll(() => card.locator("td.countdown").textContent()).toMatch(/^[3-6] 分 \d+ 秒后再试$/);
    expect(await auditLines(page, "重新连接").count()).toBe(0);
    await card.locator('button[data-action="reconnect"]').click();
    const note = card.locator(".note");
    await expect.poll(() => note.textContent(), { timeout: 10_000 }).toBe("已请求重连");
    mkdirSync(output, { recursive: true });
    await card.screenshot({ path: join(output, "reconnect-phone.zh-CN.png") });
    // The change shows without a reload, naming the agent, its id kept in a title.
    const line = auditLines(page, "重新连接");
    await expect.poll(() => line.count(), { timeout: 10_000 }).toBe(1);
    expect(await line.locator(".what").textContent()).toBe("重新连接：接入点 门锁");
    expect(await line.locator(`.what [title="${id}"]`).textContent()).toBe("门锁");

    // A refused request says so on the card.
    await page.route("**/api/endpoints/*/reconnect", (route) =>
      route.fulfill({
        status: 404,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "UNKNOWN_ENDPOINT", message: `unknown endpoint ${id}` } }),
      }),
    );
    await card.locator('button[data-action="reconnect"]').click();
    await expect.poll(() => note.textContent(), { timeout: 10_000 }).toMatch(/^没有这个接入点/);
    expect(await note.getAttribute("class")).toContain("error");
    await close(page);
  }, 60_000);

  it("adds turning the call log on to the changes at once", async () => {
    const page = await open();
    const before = await auditLines(page, "打开调用日志").count();
    await page.click("#call-log-on");
    await expect.poll(() => auditLines(page, "打开调用日志").count(), { timeout: 10_000 }).toBe(before + 1);
    await page.click("#call-log-off");
    await expect.poll(() => auditLines(page, "关闭调用日志").count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await close(page);
  }, 60_000);

  it("labels the health breakdown as deductions, with a real minus sign", async () => {
    const page = await open();
    const card = locked(page);
    await card.locator("button.fold").click();
    expect(await card.locator("td.health .parts").textContent()).toBe("扣分：已断开 −100");
    await close(page);
  }, 60_000);

  it("says once that an endpoint is already there, by its agent's name", async () => {
    if (!cloud) throw new Error("setup failed");
    const page = await open();
    await page.fill("#add-url", cloud.endpointUrl("kitchen-token"));
    await page.click("#add-button");
    const error = page.locator("#form-error");
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toBe("厨房 已在使用该接入点");
    await page.selectOption("#lang", "en");
    await page.click("#add-button");
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toBe("厨房 already uses this endpoint");
    await close(page);
  }, 60_000);

  it("names a removed agent in the changes, and explains a wrong password there", async () => {
    if (!cloud || !server) throw new Error("setup failed");
    const page = await open();
    const url = cloud.endpointUrl("spare-token");
    await page.fill("#add-url", url);
    await page.fill("#add-name", "备用");
    await page.click("#add-button");
    const row = page.locator(`#endpoints tr[data-id="${endpointId(url)}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await row.locator("button.fold").click();
    await row.locator('button[data-action="remove"]').click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => auditLines(page, "已删除").first().locator(".what").textContent(), { timeout: 10_000 })
      .toBe("配置：接入点 备用 已删除");

    const login = await fetch(`${server.url}api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret: "not the password" }),
    });
    expect(login.status).toBe(401);
    await page.reload();
    const refused = auditLines(page, "登录").first();
    await expect
      .poll(() => refused.locator(".reason").textContent(), { timeout: 10_000 })
      .toBe("密码或令牌不正确");
    await close(page);
  }, 60_000);

  it("shows a failed call's outcome at the size of a successful one", async () => {
    if (!cloud) throw new Error("setup failed");
    const page = await open();
    const agent = await cloud.waitForSession("kitchen-token", 10_000);
    await agent.ready;
    const tool = page.locator('#tools tr[data-tool="demo__calculator"]');
    await expect.poll(() => tool.count(), { timeout: 15_000 }).toBe(1);
    await agent.callTool("demo__calculator", { a: 1, b: 2, op: "add" });
    await agent.callTool("no_such_tool", {}).catch(() => {});
    const failed = page.locator("#calls td.outcome", { hasText: "失败" }).first();
    const ok = page.locator("#calls td.outcome", { hasText: "成功" }).first();
    await expect.poll(() => failed.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => ok.count(), { timeout: 10_000 }).toBe(1);
    expect(await fontSize(failed)).toBe(await fontSize(ok));
    await close(page);
  }, 60_000);

  it("lays out a service's card: the command wrapping whole, the state under its label beside the figures", async () => {
    const page = await open();
    const card = page.locator('#services tr[data-service="demo"]');
    await card.locator("button.fold").click();
    const runs = card.locator("td.runs code");
    await runs.waitFor({ state: "visible" });
    // Not cut short: it wraps between arguments, and an argument wider than the card (a long path)
    // scrolls rather than end in an ellipsis.
    const style = await runs.evaluate((e) => {
      const computed = e.ownerDocument.defaultView.getComputedStyle(e);
      return [computed.whiteSpace, computed.overflowX, computed.textOverflow];
    });
    expect(style).toEqual(["normal", "auto", "clip"]);
    expect(await runs.textContent()).toMatch(/^node \S+demo-tools\.js --a-long-argument --another-one$/);
    const broken = page.locator('#services tr[data-service="broken"]');
    await broken.locator("button.fold").click();
    await broken.locator("td.st").waitFor({ state: "visible" });
    const label = await broken
      .locator("td.st")
      .evaluate((e) => e.ownerDocument.defaultView.getComputedStyle(e, "::before").content);
    expect(label).toBe('"状态"');
    const top = async (cell: string) => (await broken.locator(cell).boundingBox())?.y;
    const left = async (cell: string) => (await broken.locator(cell).boundingBox())?.x;
    // State, tools and restarts on one row, the state in the first column as the command above it.
    await expect.poll(async () => (await top("td.st")) === (await top("td.count"))).toBe(true);
    expect(await top("td.st")).toBe(await top("td.restarts"));
    expect(await left("td.st")).toBe(await left("td.runs"));
    mkdirSync(output, { recursive: true });
    await page.locator("#services").screenshot({ path: join(output, "services-phone.zh-CN.png") });
    await close(page);
  }, 60_000);

  it("gives the login page's language picker a 32 px target and a Chinese label", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`${server.url}login`);
    const select = page.locator("#lang");
    expect((await select.boundingBox())?.height).toBeGreaterThanOrEqual(32);
    expect(await select.getAttribute("aria-label")).toBe("语言");
    await page.selectOption("#lang", "en");
    expect(await select.getAttribute("aria-label")).toBe("Language");
    await context.close();
  }, 60_000);
});
