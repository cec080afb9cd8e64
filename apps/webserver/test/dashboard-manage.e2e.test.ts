import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { type CloudSession, SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTools, launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// The dashboard as a user drives it, against a server with a config file (so every change is
// written), a simulated Xiaozhi cloud in this process (so the test plays the agents), and the demo
// tools as a real stdio service.
let browser: Browser | undefined;
let server: RunningServer | undefined;
let cloud: SimulatedXiaozhiCloud | undefined;
let configPath = "";
const jwt = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ agentId: 9001 })).toString("base64url")}.c2ln`;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  const dir = mkdtempSync(join(tmpdir(), "xz-dash-"));
  configPath = join(dir, "xiaozhi.config.json");
  writeFileSync(
    configPath,
    `${JSON.stringify(
      {
        mcpEndpoint: [{ url: cloud.endpointUrl("kitchen-token"), name: "kitchen" }, cloud.endpointUrl(jwt)],
        mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
        connection: { heartbeatInterval: 200, heartbeatTimeout: 3000 },
      },
      null,
      2,
    )}\n`,
  );
  server = await runServer(["--config", configPath, "--port", "0"]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

async function open(): Promise<{ page: Page; problems: string[]; dialogs: string[]; answers: boolean[] }> {
  if (!browser || !server) throw new Error("setup failed");
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: "en-US" });
  const problems: string[] = [];
  const dialogs: string[] = [];
  // Each confirm takes the next answer (default yes).
  const answers: boolean[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void (answers.shift() === false ? dialog.dismiss() : dialog.accept());
  });
  await page.goto(server.url);
  await expect.poll(() => page.locator("#endpoints tr[data-id]").count(), { timeout: 10_000 }).toBe(2);
  await expect.poll(() => page.locator("#live").textContent()).toBe("live");
  return { page, problems, dialogs, answers };
}

async function kitchen(): Promise<CloudSession> {
  if (!cloud) throw new Error("setup failed");
  const session = await cloud.waitForSession("kitchen-token");
  await session.ready;
  return session;
}

describe("managing from the dashboard in headless Chromium", () => {
  it("names agents, shows a tool call as it is made, and switches a tool off for the agents", async () => {
    const { page, problems } = await open();
    const names = await page.locator("#endpoints tr[data-id] .name").allTextContents();
    expect(names).toEqual(["kitchen", "agent 9001"]);
    // The name made from the token says "agent" in the page's language; a given name stays as it is.
    await page.selectOption("#lang", "zh-CN");
    const zhNames = () => page.locator("#endpoints tr[data-id] .name").allTextContents();
    await expect.poll(zhNames).toEqual(["kitchen", "智能体 9001"]);
    await page.selectOption("#lang", "en");
    await expect.poll(() => page.locator("#endpoints tr[data-id] .name").allTextContents()).toEqual(names);
    expect(await page.content()).not.toContain(jwt.split(".")[1]);

    const agent = await kitchen();
    await expect.poll(() => page.locator('#tools tr[data-tool="demo__calculator"]').count()).toBe(1);
    await agent.callTool("demo__calculator", { a: 6, b: 7, op: "multiply" });
    const first = page.locator("#calls tr").first();
    await expect.poll(() => first.textContent(), { timeout: 10_000 }).toMatch(/kitchendemo__calculator.*ok/);
    await expect
      .poll(() => page.locator('#tools tr[data-tool="demo__calculator"] .calls').textContent())
      .toBe("1");
    expect(await page.locator('#tools tr[data-tool="demo__calculator"] .p50').textContent()).toMatch(/ms$/);

    // The agent lists only at connect: what it holds is what reached it.
    await page.locator('input[data-tool="demo__clock"]').uncheck();
    await cloud?.untilTools("kitchen-token", (held) => held?.join() === "demo__calculator", 10_000);
    expect(JSON.parse(readFileSync(configPath, "utf8")).mcpServerConfig).toEqual({
      demo: { tools: { clock: { enable: false } } },
    });
    await expect
      .poll(() => page.locator('#tools tr[data-tool="demo__clock"]').getAttribute("class"))
      .toBe("off-tool");
    // And on again.
    await page.locator('input[data-tool="demo__clock"]').check();
    await cloud?.untilTools("kitchen-token", (held) => held?.length === 2, 10_000);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("adds a stdio service from the form, restarts it, and removes it only once confirmed", async () => {
    const { page, problems, dialogs, answers } = await open();
    await kitchen();
    await page.fill("#service-name", "extra");
    await page.selectOption("#service-type", "stdio");
    await page.fill("#service-command", process.execPath);
    await page.fill("#service-args", demoTools);
    await page.click("#service-save");
    const row = page.locator('#services tr[data-service="extra"]');
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 15_000 }).toBe("up");
    await expect.poll(() => page.locator('#tools tr[data-tool="extra__calculator"]').count()).toBe(1);
    await cloud?.untilTools("kitchen-token", (held) => held?.includes("extra__calculator") === true, 10_000);
    expect(JSON.parse(readFileSync(configPath, "utf8")).mcpServers.extra).toEqual({
      command: process.execPath,
      args: [demoTools],
    });

    await row.locator('button[data-action="restart"]').click();
    await expect.poll(() => row.locator("td.num").nth(1).textContent(), { timeout: 15_000 }).toBe("1");
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 15_000 }).toBe("up");

    // Declined: nothing happens. Confirmed: stopped, gone from the file, its tools gone.
    answers.push(false);
    await row.locator('button[data-action="remove"]').click();
    await expect.poll(() => dialogs.length).toBe(1);
    expect(await row.count()).toBe(1);
    expect(JSON.parse(readFileSync(configPath, "utf8")).mcpServers.extra).toBeDefined();
    answers.push(true);
    await row.locator('button[data-action="remove"]').click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    expect(dialogs).toEqual([
      "Remove the service extra? It stops and is deleted from the config file.",
      "Remove the service extra? It stops and is deleted from the config file.",
    ]);
    expect(JSON.parse(readFileSync(configPath, "utf8")).mcpServers.extra).toBeUndefined();
    await expect.poll(() => page.locator('#tools tr[data-tool="extra__calculator"]').count()).toBe(0);

    // Removing an endpoint asks too, naming the agent.
    answers.push(false);
    const id = endpointId(cloud?.endpointUrl(jwt) ?? "");
    await page.locator(`#endpoints tr[data-id="${id}"] button[data-action="remove"]`).click();
    await expect.poll(() => dialogs.length).toBe(3);
    expect(dialogs[2]).toMatch(
      /^Remove agent 9001 \(ws:\/\/127\.0\.0\.1:\d+\/mcp\/\?token=<masked:[0-9a-f]{6}>\)\?/,
    );
    expect(await page.locator("#endpoints tr[data-id]").count()).toBe(2);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it("adds an MCP client with its token shown once, which then works on /mcp, and removes it", async () => {
    const { page, problems, dialogs, answers } = await open();
    expect(await page.locator("#no-clients").isVisible()).toBe(true);
    await page.fill("#client-name", "cursor");
    await page.fill("#client-tools", "demo__clock");
    await page.click("#client-add");
    const row = page.locator('#clients tr[data-client="cursor"]');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator("td.limits").textContent()).toBe("demo__clock");
    expect(await page.locator("#no-clients").isVisible()).toBe(false);

    const token = (await page.locator("#client-token").textContent()) ?? "";
    expect(token).toMatch(/^[\w-]{32}$/);
    expect(await page.locator("#client-how").textContent()).toContain(`${server?.url}mcp`);
    const stored = JSON.parse(readFileSync(configPath, "utf8")).clients;
    expect(stored).toEqual([{ name: "cursor", token, tools: ["demo__clock"] }]);

    // The token opens /mcp, limited to the client's tools.
    const mcp = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(`${server?.url}mcp`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...extra,
        },
        body: JSON.stringify(body),
      });
    const init = await mcp({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    expect(init.status).toBe(200);
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    const listed = await mcp(
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
    );
    expect(await listed.text()).toMatch(/"name":"demo__clock"/);

    // A reload shows the client, never its token.
    await page.reload();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator("#client-new").isVisible()).toBe(false);
    expect(await page.content()).not.toContain(token);

    answers.push(true);
    await row.locator('button[data-action="remove"]').click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    expect(dialogs.at(-1)).toBe("Remove the MCP client cursor? Its token stops working at once.");
    expect(JSON.parse(readFileSync(configPath, "utf8")).clients).toEqual([]);
    expect(
      (await mcp({ jsonrpc: "2.0", id: 3, method: "tools/list" }, { "mcp-session-id": session })).status,
    ).toBe(404);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("turns the call log on for an hour, marks the page while on, shows masked arguments, and forgets when off", async () => {
    const { page, problems } = await open();
    expect(await page.locator("#call-log-banner").isVisible()).toBe(false);
    await page.click("#call-log-on");
    await expect.poll(() => page.locator("#call-log-banner").isVisible()).toBe(true);
    expect(await page.locator("#call-log-until").textContent()).toMatch(
      /^The call log is on until \d\d:\d\d:\d\d$/,
    );

    const agent = await kitchen();
    await agent.callTool("demo__calculator", { a: 6, b: 7, op: "multiply", token: "agent-secret-xyz" });
    const row = page.locator("#call-log li").first();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("demo__calculator");
    expect(text).toContain('"op":"multiply"');
    expect(text).toContain('"token":"<masked>"');
    expect(text).toContain("42");
    expect(await page.content()).not.toContain("agent-secret-xyz");

    await page.click("#call-log-off");
    await expect.poll(() => page.locator("#call-log-banner").isVisible()).toBe(false);
    expect(await page.locator("#call-log li").count()).toBe(0);
    const log = (await (await fetch(`${server?.url}api/call-log`)).json()) as { entries: unknown[] };
    expect(log.entries).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("draws an endpoint's RTT and health charts and its up period after a few heartbeats", async () => {
    const { page, problems } = await open();
    const id = endpointId(cloud?.endpointUrl("kitchen-token") ?? "");
    await page.locator(`#endpoints tr[data-id="${id}"] button[data-action="history"]`).click();
    const details = page.locator(`#endpoints tr.details[data-history="${id}"]`);
    await expect.poll(() => details.locator(".charts").count()).toBe(1);
    // Two line charts, each with a line through the measured points and a mark on the last one.
    await expect.poll(() => details.locator("svg polyline").count()).toBe(2);
    expect(await details.locator("svg circle").count()).toBe(2);
    const rtt = await details.locator("svg polyline").first().getAttribute("points");
    expect(rtt?.split(" ").length).toBeGreaterThanOrEqual(1);
    expect(await details.locator("svg rect").count()).toBeGreaterThanOrEqual(1);
    expect(await details.locator(".periods li").first().textContent()).toMatch(/^up from /);
    // Drops show as a down period with the reason, live.
    cloud?.close("kitchen-token", 4004, "Internal server error");
    await expect
      .poll(() => details.locator(".periods").textContent(), { timeout: 10_000 })
      .toMatch(/down from .*: the server had an error \(code 4004: Internal server error\)/);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
