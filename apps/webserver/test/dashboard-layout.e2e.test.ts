import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowedWords, englishWords, fontsOf, inPage, layoutProblems } from "./page-checks.js";
import { demoTools, launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// The dashboard on a phone and on a wide screen, in English and Chinese, with what makes a page
// hard to lay out: a long agent name, a failed agent, a service down with a long error, a service
// with many long tool names, a tool switched off and one that cannot run, an agent given only some
// tools. A simulated Xiaozhi cloud in this process plays the agents.
const output = join(import.meta.dirname, "../test-output");
const manyTools = join(import.meta.dirname, "fixtures/many-tools.mjs");
const longName = "客厅的小智音箱 living-room-speaker-by-the-window";
let browser: Browser | undefined;
let server: RunningServer | undefined;
let cloud: SimulatedXiaozhiCloud | undefined;
let configPath = "";
let configText = "";

const phone: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
};
const wide: BrowserContextOptions = { viewport: { width: 1400, height: 1000 } };
const toolCount = 2 + 12 + 1;

beforeAll(async () => {
  // Without a CJK font the Chinese screenshots would show boxes.
  const families = (() => {
    try {
      return execFileSync("fc-list", [":lang=zh", "family"], { encoding: "utf8" });
    } catch {
      return "";
    }
  })();
  if (!families.trim())
    throw new Error("no CJK font found: apt-get install -y fontconfig fonts-wqy-microhei");
  cloud = await SimulatedXiaozhiCloud.start();
  cloud.configure("locked-token", { closeAfterAccept: 1008 });
  const dir = mkdtempSync(join(tmpdir(), "xz-layout-"));
  configPath = join(dir, "xiaozhi.config.json");
  // Services beside the config, as users keep them (relative paths are taken from the config's folder).
  mkdirSync(join(dir, "mcpServers"));
  symlinkSync(demoTools, join(dir, "mcpServers/demo-tools.js"));
  symlinkSync(manyTools, join(dir, "mcpServers/many-tools.mjs"));
  const stderr = [
    "Error: Cannot find module '/home/someone/projects/home-assistant-bridge/node_modules/@someone/ha-mcp-server/dist/index.js'",
    "    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)",
  ].join("\n");
  configText = `${JSON.stringify(
    {
      mcpEndpoint: [
        { url: cloud.endpointUrl("kitchen-token"), name: "kitchen", maxTools: 10 },
        { url: cloud.endpointUrl("living-token"), name: longName, services: ["demo"] },
        { url: cloud.endpointUrl("locked-token"), name: "locked" },
        { url: cloud.endpointUrl("flaky-token"), name: "flaky" },
      ],
      mcpServers: {
        demo: { command: "node", args: ["./mcpServers/demo-tools.js"] },
        everything: { command: "node", args: ["./mcpServers/many-tools.mjs"] },
        broken: {
          command: "node",
          args: ["-e", `console.error(${JSON.stringify(stderr)}); process.exit(1)`],
        },
      },
      mcpServerConfig: { everything: { tools: { "print-environment-variables": { enable: false } } } },
      customMCP: {
        tools: [{ name: "weather_report", description: "Reports the weather", handler: { type: "script" } }],
      },
      connection: { heartbeatInterval: 500, heartbeatTimeout: 3000 },
    },
    null,
    2,
  )}\n`;
  writeFileSync(configPath, configText);
  server = await runServer(["--config", configPath, "--port", "0"]);
  // A few calls from two agents, one of them failing, for the table of recent calls.
  for (const [agent, tool, args] of [
    ["kitchen-token", "demo__calculator", { a: 6, b: 7, op: "multiply" }],
    ["living-token", "demo__clock", { timeZone: "Asia/Shanghai" }],
    ["kitchen-token", "everything__echo", {}],
    ["living-token", "demo__calculator", { a: 1, b: 0, op: "divide" }],
  ] as const) {
    const session = await cloud.waitForSession(agent, 10_000);
    await session.ready;
    // The services start beside the links: the agent hears of each one's tools as it comes up.
    for (let i = 0; i < 10; i++) {
      const seen = session.toolsChanged;
      if ((await session.listTools()).some((t) => t.name === tool)) break;
      await session.until(() => session.toolsChanged > seen, 15_000);
    }
    await session.callTool(tool, args);
  }
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

/** A page in its own context, once every endpoint, service and tool is shown as it settles. */
async function open(options: BrowserContextOptions & { locale: string }, query = ""): Promise<Page> {
  if (!browser || !server) throw new Error("setup failed");
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems: string[] = [];
  pageErrors.set(page, problems);
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${server.url}${query}`);
  await page.waitForFunction(
    inPage(`document.querySelectorAll("#endpoints tr[data-id]").length === 4 &&
     document.querySelectorAll('#endpoints tr[data-state="connected"]').length === 3 &&
     (document.querySelector('#endpoints tr[data-state="failed"] .reason')?.textContent ?? "") !== "" &&
     document.querySelector('#services tr[data-service="broken"]')?.dataset.state === "down" &&
     document.querySelectorAll("#tools tr[data-tool]").length === ${toolCount}`),
    undefined,
    { timeout: 20_000 },
  );
  return page;
}

const pageErrors = new WeakMap<Page, string[]>();

/** Closes a page and its context; the page must have thrown nothing. */
async function close(page: Page): Promise<void> {
  expect(pageErrors.get(page)).toEqual([]);
  const context = page.context();
  await page.close();
  await context.close();
}

/** Opens every folded card, so the details are checked too. */
async function unfoldAll(page: Page): Promise<void> {
  const folded = page.locator("button.fold[aria-expanded=false]:visible");
  for (let i = 0; i < 100 && (await folded.count()) > 0; i++) await folded.first().click();
  expect(await folded.count()).toBe(0);
}

describe("the dashboard's layout in headless Chromium", () => {
  it("fits a 390 × 844 phone in English and Chinese: cards, whole words and badges, 40 px actions", async () => {
    mkdirSync(output, { recursive: true });
    for (const locale of ["en-US", "zh-CN"]) {
      const page = await open({ ...phone, locale });
      // Folded, a card shows the name, the state and the main action.
      const kitchen = page.locator('#endpoints tr[data-id]:has(.name:text-is("kitchen"))');
      expect(await kitchen.locator(".state").isVisible()).toBe(true);
      expect(await kitchen.locator('button[data-action="reconnect"]').isVisible()).toBe(true);
      expect(await kitchen.locator(".url").isVisible()).toBe(false);
      expect(await layoutProblems(page)).toEqual([]);
      if (locale === "zh-CN") {
        await page.waitForFunction(
          inPage(`document.querySelector('#services tr[data-service="broken"]').dataset.state === "down"`),
        );
        await page.screenshot({ path: join(output, "dashboard-phone.zh-CN.png"), fullPage: true });
        // The Chinese is drawn with a CJK face named in the page's font stack.
        const cjk = await fontsOf(page, 'h2 [data-i18n="endpoints"]');
        expect(
          cjk.filter((f) => /WenQuanYi|Noto Sans CJK|Source Han|PingFang|YaHei/.test(f.familyName)),
        ).toEqual([expect.objectContaining({ glyphCount: 3 })]);
        expect(await page.evaluate("getComputedStyle(document.body).fontFamily")).toMatch(
          /PingFang SC.*Microsoft YaHei.*Noto Sans CJK SC.*WenQuanYi Micro Hei/,
        );
      }
      await unfoldAll(page);
      expect(await kitchen.locator(".url").isVisible()).toBe(true);
      expect(await layoutProblems(page)).toEqual([]);
      // The narrowest phones in use, and the widths up to where the wide layout starts.
      for (const width of [360, 600, 768, 959]) {
        await page.setViewportSize({ width, height: 800 });
        expect({ width, problems: await layoutProblems(page) }).toEqual({ width, problems: [] });
      }
      await close(page);
    }
  }, 90_000);

  it("keeps tool names, names and badges whole at 1400 × 1000 in English and Chinese", async () => {
    for (const locale of ["en-US", "zh-CN"]) {
      const page = await open({ ...wide, locale });
      expect(await layoutProblems(page)).toEqual([]);
      // Narrower desktops and tablets across, down to where the cards start.
      for (const width of [960, 1024, 1280, 1920]) {
        await page.setViewportSize({ width, height: 1000 });
        expect({ width, problems: await layoutProblems(page) }).toEqual({ width, problems: [] });
      }
      await page.setViewportSize(wide.viewport ?? { width: 1400, height: 1000 });
      // A tool name is on one line and not cut short on a wide screen.
      const name =
        "document.querySelector('#tools tr[data-tool=\"everything__print-environment-variables\"] code')";
      expect(await page.evaluate(`${name}.scrollWidth <= ${name}.clientWidth`)).toBe(true);
      await page.screenshot({
        path: join(output, locale === "en-US" ? "dashboard-wide.png" : "dashboard-wide.zh-CN.png"),
        fullPage: true,
      });
      await close(page);
    }
  }, 60_000);

  it("groups tools by service with a filter, says each tool's state and what each agent is given", async () => {
    const page = await open({ ...wide, locale: "en-US" });
    const groups = await page.evaluate(
      `[...document.querySelectorAll("#tools tbody")].map((b) => [b.dataset.service, b.querySelectorAll("tr[data-tool]").length])`,
    );
    expect(groups).toEqual([
      ["demo", 2],
      ["everything", 12],
      ["broken", 0],
      ["customMCP", 1],
    ]);
    // The service restarts now and then; between two attempts it is down, with no tools.
    await page.waitForFunction(
      inPage(
        `document.querySelector('#tools tbody[data-service="broken"] tr.group').textContent === "brokendownno tools while it is down"`,
      ),
    );
    const stateOf = (tool: string) => page.locator(`#tools tr[data-tool="${tool}"] td.tstate`).textContent();
    expect(await stateOf("demo__clock")).toBe("enabled");
    expect(await stateOf("everything__print-environment-variables")).toBe(
      "hiddenswitched off: no agent sees it",
    );
    expect(await stateOf("weather_report")).toBe(
      "unavailablehandler type script is not supported (supported: mcp, proxy with platform coze, http)",
    );
    expect(await page.locator('#tools tr[data-tool="demo__calculator"] td.desc').textContent()).toBe(
      "Does arithmetic on two numbers",
    );
    // 13 tools are enabled; the agent limited to the demo service is given its 2. Each with the size
    // of its list, and kitchen over its maxTools.
    const givenCell = (name: string) =>
      page.locator(`#endpoints tr[data-id]:has(.name:text-is("${name}")) .given`);
    const given = (name: string) => givenCell(name).textContent();
    await expect.poll(() => given("kitchen")).toMatch(/^13 tools · \d+\.\d KiB · more than maxTools 10$/);
    expect(await givenCell("kitchen").getAttribute("class")).toBe("given over");
    expect(await given(longName)).toMatch(/^2 of 13 tools · \d+ B$/);
    expect(await given("locked")).toMatch(/^13 tools · \d+\.\d KiB$/);

    const shown = () =>
      page.evaluate<string[]>(
        `[...document.querySelectorAll("#tools tr[data-tool]")].filter((r) => r.checkVisibility()).map((r) => r.dataset.tool)`,
      );
    await page.fill("#tool-filter", "CLOCK");
    expect(await shown()).toEqual(["demo__clock"]);
    expect(await page.locator("#tool-count").textContent()).toBe("1 of 15 shown");
    await page.fill("#tool-filter", "resource");
    expect(await shown()).toEqual(["everything__get-resource-reference", "everything__get-resource-links"]);
    await page.fill("#tool-filter", "arithmetic");
    expect(await shown()).toEqual(["demo__calculator"]);
    await page.fill("#tool-filter", "no such thing");
    expect(await shown()).toEqual([]);
    expect(await page.locator("#no-tools").textContent()).toBe("No tool matches “no such thing”.");
    await page.fill("#tool-filter", "");
    expect((await shown()).length).toBe(toolCount);
    await close(page);
  }, 60_000);

  it("explains close codes in words, in English and Chinese", async () => {
    if (!cloud) throw new Error("setup failed");
    const en = await open({ ...wide, locale: "en-US" });
    const zh = await open({ ...wide, locale: "zh-CN" });
    const reason = (page: Page, name: string) =>
      page.locator(`#endpoints tr[data-id]:has(.name:text-is("${name}")) .reason`).textContent();
    expect(await reason(en, "locked")).toBe("closed right after connecting: token rejected (code 1008)");
    expect(await reason(zh, "locked")).toBe("刚连上就被关闭：令牌被拒绝（代码 1008）");
    cloud.drop("flaky-token");
    await expect.poll(() => reason(en, "flaky"), { timeout: 10_000 }).toBe("connection lost (code 1006)");
    await expect.poll(() => reason(zh, "flaky"), { timeout: 10_000 }).toBe("连接中断（代码 1006）");
    await (await cloud.waitForSession("flaky-token", 10_000)).ready;
    cloud.close("flaky-token", 4004, "Internal server error");
    await expect
      .poll(() => reason(en, "flaky"), { timeout: 10_000 })
      .toBe("the server had an error (code 4004: Internal server error)");
    await expect.poll(() => reason(zh, "flaky"), { timeout: 10_000 }).toBe("服务器出错（代码 4004）");
    // The original text is one tap away, for a bug report or a search.
    expect(
      await zh
        .locator('#endpoints tr[data-id]:has(.name:text-is("flaky")) button.copy')
        .getAttribute("data-text"),
    ).toBe("closed 4004 Internal server error");
    await close(en);
    await close(zh);
  }, 60_000);

  it("shows a rejected config as a banner in both languages, and no English on the Chinese page", async () => {
    const zh = await open({ ...phone, locale: "zh-CN" });
    const en = await open({ ...wide, locale: "en-US" });
    writeFileSync(configPath, configText.replace('"heartbeatInterval": 500', '"heartbeatInterval": "often"'));
    await zh.locator("#config-banner").waitFor({ state: "visible", timeout: 10_000 });
    await en.locator("#config-banner").waitFor({ state: "visible", timeout: 10_000 });
    // biome-ignore lint/performance/useDomNodeTextContent: the banner as rendered, one line per block
    expect(await en.locator("#config-banner").innerText()).toBe(
      [
        "The config file was not applied",
        "connection.heartbeatInterval: expected a number, got text",
        "The previous config is still running. Fix the file and it is read again at once.",
        `File: ${configPath}`,
      ].join("\n"),
    );
    // biome-ignore lint/performance/useDomNodeTextContent: the banner as rendered, one line per block
    expect(await zh.locator("#config-banner").innerText()).toBe(
      [
        "配置文件的修改没有生效",
        "connection.heartbeatInterval：应为数字，实际是文本",
        "仍在运行之前的配置。改好文件后会立即重新读取。",
        `文件：${configPath}`,
      ].join("\n"),
    );
    // Everything the Chinese page can show at once: open cards, a history, an error from the API.
    await unfoldAll(zh);
    // The refusal in the list of changes too, worded as the banner words it.
    await expect
      .poll(() => zh.locator("#audit .reason").first().textContent(), { timeout: 10_000 })
      .toBe("connection.heartbeatInterval：应为数字，实际是文本");
    await zh
      .locator('#endpoints tr[data-id]:has(.name:text-is("flaky")) button[data-action="history"]')
      .click();
    await zh.locator("#endpoints tr.details .charts").waitFor();
    await zh.fill("#add-url", "<请填写接入点>");
    await zh.click("#add-button");
    await expect
      .poll(() => zh.locator("#form-error").textContent())
      .toBe("接入点地址无效：接入点地址是占位符，不是真实的接入点");
    expect(await englishWords(zh, allowedWords)).toEqual([]);
    // The English page, for contrast, is caught by the same check.
    expect((await englishWords(en, allowedWords)).length).toBeGreaterThan(20);

    // Read successfully again, the banner goes.
    writeFileSync(configPath, configText);
    await zh.locator("#config-banner").waitFor({ state: "hidden", timeout: 10_000 });
    await en.locator("#config-banner").waitFor({ state: "hidden", timeout: 10_000 });
    await close(zh);
    await close(en);
  }, 60_000);

  it("warns of fields nothing reads, a misspelt one and xiaozhi-client's own, until the file is fixed", async () => {
    const zh = await open({ ...phone, locale: "zh-CN" });
    const en = await open({ ...wide, locale: "en-US" });
    const typo = configText
      .replace('"mcpServerConfig"', '"mcpServerConfg"')
      .replace(/\n}\n$/, ',\n  "asr": { "appid": "x" }\n}\n');
    writeFileSync(configPath, typo);
    await en.locator("#unknown-banner").waitFor({ state: "visible", timeout: 10_000 });
    await zh.locator("#unknown-banner").waitFor({ state: "visible", timeout: 10_000 });
    // biome-ignore lint/performance/useDomNodeTextContent: the banner as rendered, one line per block
    expect(await en.locator("#unknown-banner").innerText()).toBe(
      [
        "The config file has fields nothing reads",
        "mcpServerConfg is ignored: did you mean mcpServerConfig?",
        "asr is xiaozhi-client's own setting (speech, models, its call log): not used here",
      ].join("\n"),
    );
    // biome-ignore lint/performance/useDomNodeTextContent: the banner as rendered, one line per block
    expect(await zh.locator("#unknown-banner").innerText()).toBe(
      [
        "配置文件中有无人读取的字段",
        "mcpServerConfg 被忽略：是不是想写 mcpServerConfig？",
        "asr 是 xiaozhi-client 自己的设置（语音、模型、调用日志），这里不使用",
      ].join("\n"),
    );
    const status = (await (await fetch(new URL("/api/status", server?.url))).json()) as {
      config: { unknownFields?: unknown };
    };
    expect(status.config.unknownFields).toEqual([
      { path: "mcpServerConfg", meant: "mcpServerConfig" },
      { path: "asr", xiaozhiClient: true },
    ]);
    expect(`${server?.stdout()}${server?.stderr()}`).toContain(
      "mcpServerConfg is not a field xiaozhi-connect reads",
    );
    writeFileSync(configPath, configText);
    await en.locator("#unknown-banner").waitFor({ state: "hidden", timeout: 10_000 });
    await zh.locator("#unknown-banner").waitFor({ state: "hidden", timeout: 10_000 });
    await close(zh);
    await close(en);
  }, 60_000);

  it("speaks Chinese to an English browser in a mainland China time zone, unless told otherwise", async () => {
    const shanghai = await open({ ...wide, locale: "en-US", timezoneId: "Asia/Shanghai" });
    expect(await shanghai.getAttribute("html", "lang")).toBe("zh-CN");
    await close(shanghai);
    const london = await open({ ...wide, locale: "en-US", timezoneId: "Europe/London" });
    expect(await london.getAttribute("html", "lang")).toBe("en");
    await close(london);
    const asked = await open({ ...wide, locale: "en-US", timezoneId: "Asia/Shanghai" }, "?lang=en");
    expect(await asked.getAttribute("html", "lang")).toBe("en");
    expect(await asked.locator("#add-button").textContent()).toBe("Add endpoint");
    await close(asked);
  }, 60_000);
});
