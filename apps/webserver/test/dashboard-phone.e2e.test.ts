import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser, BrowserContextOptions, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computed, layoutProblems, sizeOf } from "./page-checks.js";
import { demoTools, launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// The dashboard in Chinese on a 390 × 844 phone (and a touch tablet): reasons and names in Chinese,
// the changes list updated at once, a reconnect answered with its outcome on the card, waits and
// figures labelled, the latest calls only, 40 px targets and nothing wider than the screen. A
// simulated Xiaozhi cloud plays the agents: one refused (401), one busy (503).
const output = join(import.meta.dirname, "../test-output");
let browser: Browser | undefined;
let server: RunningServer | undefined;
let cloud: SimulatedXiaozhiCloud | undefined;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  cloud.configure("locked-token", { rejectStatus: 401 });
  cloud.configure("busy-token", { rejectStatus: 503 });
  mkdirSync(output, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "xz-phone-"));
  const configPath = join(dir, "xiaozhi.config.json");
  const config = {
    mcpEndpoint: [
      { url: cloud.endpointUrl("kitchen-token"), name: "厨房" },
      { url: cloud.endpointUrl("locked-token"), name: "门锁" },
      { url: cloud.endpointUrl("busy-token"), name: "忙碌" },
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

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** The dashboard on a phone (or `device`) in `locale`, once the agents and services have settled. */
async function open(locale = "zh-CN", device: BrowserContextOptions = phone): Promise<Page> {
  if (!browser || !server) throw new Error("setup failed");
  const context = await browser.newContext({ locale, ...device });
  const page = await context.newPage();
  const problems: string[] = [];
  pageErrors.set(page, problems);
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(server.url);
  const rows = page.locator("#endpoints tr[data-id]");
  await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
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
const label = (node: Locator) => computed(node, ["content"], "::before");

/** Opens every folded card, so its actions are measured too. */
async function unfoldAll(page: Page): Promise<void> {
  const folded = page.locator("button.fold[aria-expanded=false]:visible");
  for (let i = 0; i < 100 && (await folded.count()) > 0; i++) await folded.first().click();
  expect(await folded.count()).toBe(0);
}

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
    await page.locator("#client-new").screenshot({ path: join(output, "client-how-phone.zh-CN.png") });
    await close(page);
  }, 60_000);

  it("answers a tap on 重连 with the new try and its outcome, adds it to the changes at once under the agent's name, or says why it failed", async () => {
    if (!cloud) throw new Error("setup failed");
    const page = await open();
    const card = locked(page);
    const id = (await card.getAttribute("data-id")) ?? "";
    // A rejected token is tried again in a few minutes: the card says when it was refused, and when next.
    const countdown = card.locator("td.countdown");
    const refused = /^(刚刚|\d+\s秒前|\d+\s分\s\d+\s秒前)被拒绝，[3-6]\s分\s\d+\s秒后再试$/;
    await expect.poll(() => countdown.textContent()).toMatch(refused);
    expect(await auditLines(page, "重新连接").count()).toBe(0);
    const tries = cloud.upgrades.get("locked-token") ?? 0;
    // The request held while the card is made anew (a language switch, and back): the tap is kept.
    let hold: (release: () => void) => void = () => {};
    const held = new Promise<() => void>((resolve) => {
      hold = resolve;
    });
    await page.route("**/api/endpoints/*/reconnect", (route) => hold(() => void route.continue()));
    await card.locator('button[data-action="reconnect"]').click();
    const release = await held;
    const note = card.locator(".note");
    for (const lang of ["en", "zh-CN"]) await page.selectOption("#lang", lang);
    expect(await note.count()).toBe(1);
    release();
    await page.unroute("**/api/endpoints/*/reconnect");
    // The server tries at once and is refused again: the card says so, and when it tries next.
    await expect.poll(() => note.textContent(), { timeout: 10_000 }).toBe("再次被拒绝");
    expect(cloud.upgrades.get("locked-token")).toBe(tries + 1);
    expect(await note.getAttribute("class")).toContain("error");
    // "Just now" for 5 s: a busy machine may read it later.
    expect(await countdown.textContent()).toMatch(/^(刚刚|\d+\s秒前)被拒绝，[3-6]\s分\s\d+\s秒后再试$/);
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

  it("says a first refusal as such, names a removed agent in the changes, and explains a wrong password there", async () => {
    if (!cloud || !server) throw new Error("setup failed");
    const page = await open();
    const url = cloud.endpointUrl("spare-token");
    await page.fill("#add-url", url);
    await page.fill("#add-name", "备用");
    await page.click("#add-button");
    const row = page.locator(`#endpoints tr[data-id="${endpointId(url)}"]`);
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 10_000 }).toBe("connected");
    // Connected, then refused at a tap on 重连: refused, not refused again.
    cloud.configure("spare-token", { rejectStatus: 401 });
    await row.locator('button[data-action="reconnect"]').click();
    await expect.poll(() => row.locator(".note").textContent(), { timeout: 10_000 }).toBe("被拒绝");
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
    const sizes = async () => [await computed(failed, ["font-size"]), await computed(ok, ["font-size"])];
    await expect.poll(sizes).toSatisfy(([a, b]) => a !== null && a === b);
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
    const style = () => computed(runs, ["white-space", "overflow-x", "text-overflow"]);
    await expect.poll(style).toBe("normal auto clip");
    expect(await runs.textContent()).toMatch(/^node \S+demo-tools\.js --a-long-argument --another-one$/);
    const broken = page.locator('#services tr[data-service="broken"]');
    await broken.locator("button.fold").click();
    await broken.locator("td.st").waitFor({ state: "visible" });
    await expect.poll(() => label(broken.locator("td.st"))).toBe('"状态"');
    // State, tools and restarts on one row, the state in the first column as the command above it.
    // Read at once and polled: a restart of the broken service rebuilds the table (no box then).
    const cells = ["td.st", "td.count", "td.restarts", "td.runs"].map((cell) => broken.locator(cell));
    const placed = async () => {
      const [st, count, restarts, runs] = await Promise.all(cells.map((cell) => cell.boundingBox()));
      return !!st && st.y === count?.y && st.y === restarts?.y && st.x === runs?.x;
    };
    await expect.poll(placed).toBe(true);
    await page.locator("#services").screenshot({ path: join(output, "services-phone.zh-CN.png") });
    await close(page);
  }, 60_000);

  it("shows the latest 5 calls on a phone, all of them at a tap and back", async () => {
    if (!cloud) throw new Error("setup failed");
    const page = await open();
    const agent = await cloud.waitForSession("kitchen-token", 10_000);
    await agent.ready;
    await page.locator('#tools tr[data-tool="demo__calculator"]').waitFor({ timeout: 15_000 });
    const calls = page.locator("#calls tr");
    const total = Math.min(50, (await calls.count()) + 8);
    for (let i = 0; i < 8; i++) await agent.callTool("demo__calculator", { a: i, b: 1, op: "add" });
    await expect.poll(() => calls.count(), { timeout: 10_000 }).toBe(total);
    const shown = page.locator("#calls tr:visible");
    const more = page.locator(".more-calls button");
    expect([await shown.count(), await more.textContent()]).toEqual([5, `显示全部 ${total} 次调用`]);
    expect(await more.getAttribute("aria-expanded")).toBe("false");
    const section = page.locator("section:has(#calls)");
    expect((await section.boundingBox())?.height).toBeLessThan(600); // the sections under it stay near
    await section.screenshot({ path: join(output, "calls-phone.zh-CN.png") });
    await more.click();
    await expect.poll(() => shown.count()).toBe(total);
    expect(await more.textContent()).toBe("只显示最近 5 次");
    expect(await more.getAttribute("aria-expanded")).toBe("true");
    // A new call goes on top of the open list.
    await agent.callTool("demo__clock", {});
    await expect.poll(() => calls.count(), { timeout: 10_000 }).toBe(Math.min(50, total + 1));
    expect(await shown.count()).toBe(await calls.count());
    await more.click();
    await expect.poll(() => shown.count()).toBe(5);
    await page.selectOption("#lang", "en");
    expect(await more.textContent()).toBe(`Show all ${await calls.count()} calls`);
    await close(page);
  }, 60_000);

  it("gives every action a 40 × 40 px target and nothing wider than the screen on a phone and a touch tablet, upright and on its side; a mouse on a wide screen keeps 32 px and every call", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const tablet = { viewport: { width: 1180, height: 820 }, hasTouch: true, isMobile: false };
    for (const [device, sizes] of [
      [phone, ["390x844", "360x780", "844x390"]],
      [tablet, ["1180x820", "820x1180"]],
    ] as const) {
      const page = await open("zh-CN", device);
      // A finger's screen however wide: phone.css's `(pointer: coarse)`.
      expect(await page.evaluate("matchMedia('(pointer: coarse)').matches")).toBe(true);
      // The sign-out buttons show after a sign-in from another device (lan-auth); shown here to be measured.
      await page.locator("#account").evaluate((e) => e.removeAttribute("hidden"));
      for (const size of sizes) {
        const [width = 0, height = 0] = size.split("x").map(Number);
        await page.setViewportSize({ width, height });
        await unfoldAll(page);
        if (size === "390x844") {
          for (const text of ["重连", "历史", "移除", "收起", "重启", "编辑", "退出登录"])
            expect(await page.locator("button:visible", { hasText: text }).count()).toBeGreaterThan(0);
          expect(await page.locator("button.copy:visible, input.switch:visible").count()).toBeGreaterThan(1);
        }
        // Nothing wider than the screen, no action under 40 × 40 px, no word broken.
        expect({ size, problems: await layoutProblems(page) }).toEqual({ size, problems: [] });
        await page.screenshot({ path: join(output, `targets-${width}.zh-CN.png`) });
      }
      await close(page);
    }

    const wide = await browser.newPage({ locale: "zh-CN", viewport: { width: 1400, height: 1000 } });
    await wide.goto(server.url);
    const failed = wide.locator('#endpoints tr[data-state="failed"]');
    expect((await sizeOf(failed.locator('button[data-action="reconnect"]')))[1]).toBe(32);
    expect(await sizeOf(failed.locator("button.copy"))).toEqual([32, 32]);
    expect(await sizeOf(wide.locator("input.switch").first())).toEqual([52, 32]);
    expect(await wide.locator("#calls tr:visible").count()).toBe(await wide.locator("#calls tr").count());
    expect(await wide.locator(".more-calls").isVisible()).toBe(false);
    await wide.close();
  }, 60_000);

  it("labels a wait as a reconnect's, words the history plainly, and says which characters a service name takes", async () => {
    if (!cloud) throw new Error("setup failed");
    const page = await open();
    // A cloud that answers 503 is tried again on the backoff: the folded card says what the wait is for.
    const countdown = page.locator('#endpoints tr[data-id]:has(.name:text-is("忙碌")) td.countdown');
    const labelled = async () => `${await label(countdown)} ${await countdown.textContent()}`;
    await expect.poll(labelled, { timeout: 15_000 }).toMatch(/^"重连" (\d+ 分 )?\d+ 秒后（第 \d+ 次）$/);

    // The refused agent's history: since when it is not connected, and why.
    const card = locked(page);
    await card.locator("button.fold").click();
    await card.locator('button[data-action="history"]').click();
    const period = page.locator("#endpoints tr.details .periods li").first();
    await expect.poll(() => period.textContent()).toMatch(/^\d+:\d+:\d+ 起未连接，原因：\S/);

    // The service name field says which characters it takes, and a Chinese name is refused so.
    const name = page.locator("#service-name");
    expect(await name.getAttribute("placeholder")).toBe("名称：英文字母、数字、- _");
    await name.fill("天气");
    await page.fill("#service-command", "node");
    await page.click("#service-save");
    await expect
      .poll(() => page.locator("#service-error").textContent(), { timeout: 10_000 })
      .toBe("配置无效：服务名称须为 1 到 64 个英文字母、数字、- 或 _，不能含中文或空格");
    await page.selectOption("#lang", "en");
    expect(await name.getAttribute("placeholder")).toBe("name: letters, digits, - _");
    await close(page);
  }, 60_000);
});
