import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture } from "./capture.js";
import {
  demoTools,
  launchChromium,
  type RunningServer,
  runCli,
  spawnServer,
  stopServer,
  waitForOutput,
} from "./run-server.js";

// A config migrated from xiaozhi-client with its three kinds of custom tools (a service's tool
// under the user's name, an HTTP API, a Coze workflow) and a malformed entry, served to a
// simulated Xiaozhi cloud; each tool is switched off by its own name from the CLI, the API and
// the dashboard.
const agent = "living-room-token";
let cloud: SimulatedXiaozhiCloud | undefined;
let server: RunningServer | undefined;
let browser: Browser | undefined;
const apis: Server[] = [];
let dir = "";
let configPath = "";
let env: Record<string, string> = {};

/** A local HTTP API answering every request with `body` as JSON; records what it was sent. */
async function fakeApi(body: unknown): Promise<{ url: string; sent: { url?: string; body: string }[] }> {
  const sent: { url?: string; body: string }[] = [];
  const api = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      sent.push({ ...(req.url === undefined ? {} : { url: req.url }), body: text });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  apis.push(api);
  return { url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, sent };
}

function readConfig(): {
  customMCP: { tools: { name: string; enable?: boolean }[] };
  mcpServerConfig: Record<string, unknown>;
} {
  return JSON.parse(readFileSync(configPath, "utf8"));
}

const enableOf = (name: string) => readConfig().customMCP.tools.find((t) => t.name === name)?.enable;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  const weather = await fakeApi({ ok: true, data: { forecast: "晴，25 度" } });
  const coze = await fakeApi({ code: 0, msg: "", data: '{"output":"灯已打开"}' });
  dir = mkdtempSync(join(tmpdir(), "xz-custom-"));
  mkdirSync(join(dir, "state"));
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  configPath = join(dir, "xiaozhi.config.json");
  const config = {
    mcpEndpoint: [{ url: cloud.endpointUrl(agent), name: "living room", maxTools: 4 }],
    mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
    // What xiaozhi-client leaves: the service tool switched on when it was added to the agent, and
    // a switch written under a name no tool has.
    mcpServerConfig: {
      demo: { tools: { calculator: { enable: true } } },
      customMCP: { tools: { p: { enable: false } } },
    },
    platforms: { coze: { token: "coze-secret-token" } },
    customMCP: {
      tools: [
        {
          name: "multiply",
          description: "两个数相乘",
          inputSchema: {
            type: "object",
            properties: { a: { type: "number" }, b: { type: "number" }, op: { type: "string" } },
          },
          handler: { type: "mcp", config: { serviceName: "demo", toolName: "calculator" } },
        },
        {
          name: "weather_http",
          description: "查询天气",
          inputSchema: { type: "object", properties: { city: { type: "string" } } },
          handler: {
            type: "http",
            url: `${weather.url}/weather`,
            response_mapping: { data_path: "data.forecast" },
          },
        },
        {
          name: "lights",
          description: "扣子工作流：开灯",
          inputSchema: { type: "object", properties: { room: { type: "string" } } },
          handler: { type: "proxy", platform: "coze", config: { workflow_id: "7500", base_url: coze.url } },
        },
        { name: "broken", description: "没有处理器" },
      ],
    },
    connection: { heartbeatInterval: 200, heartbeatTimeout: 3000 },
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const started = spawnServer(["--config", configPath, "--port", "0"], env, dir);
  const ready = /ready: dashboard (\S+)/;
  await waitForOutput(started, ready, 30_000);
  server = { ...started, url: (ready.exec(started.stdout())?.[1] ?? "").replace(/#.*$/, "") };
  // The ready line counts what agents are given, not the entry without a handler: the HTTP and Coze
  // tools, and once the demo service has started its two tools and the custom tool calling one.
  const line = /ready: .*/.exec(started.stdout())?.[0] ?? "";
  expect(line).toContain(line.includes("still starting") ? "· 2 tools" : "· 5 tools");
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
  for (const api of apis) await new Promise((resolve) => api.close(resolve));
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, server?.url), {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("a migrated config's custom tools", () => {
  it("lists each under its own name, calls it, and switches it off by name from the CLI, the API and the dashboard", async () => {
    if (!cloud || !browser || !server) throw new Error("setup failed");
    const session = await cloud.waitForSession(agent, 10_000);
    await session.ready;
    const held = await cloud.untilTools(agent, (names) =>
      ["multiply", "weather_http", "lights"].every((name) => names?.includes(name)),
    );
    // The original stays listed beside the renamed one; the malformed entry is not given to agents.
    expect(held).toEqual(expect.arrayContaining(["demo__calculator", "demo__clock"]));
    expect(held).not.toContain("broken");
    const listed = await session.listTools();
    expect(listed.find((t) => t.name === "multiply")).toMatchObject({
      description: "两个数相乘",
      inputSchema: { properties: { a: { type: "number" } } },
    });

    expect(await session.callTool("multiply", { a: 6, b: 7, op: "multiply" })).toMatchObject({
      content: [{ type: "text", text: "42" }],
    });
    expect(await session.callTool("weather_http", { city: "杭州" })).toMatchObject({
      content: [{ type: "text", text: "晴，25 度" }],
    });
    expect(await session.callTool("lights", { room: "客厅" })).toMatchObject({
      content: [{ type: "text", text: '{"output":"灯已打开"}' }],
    });

    const tools = (await api("GET", "/api/tools")).body.tools as Record<string, unknown>[];
    expect(tools.find((t) => t.name === "multiply")).toMatchObject({
      service: "customMCP",
      enabled: true,
      target: "demo__calculator",
    });
    expect(tools.find((t) => t.name === "broken")).toMatchObject({
      enabled: true,
      unavailable: "the entry has no handler",
    });
    // The CLI shows the mapping and why a tool is unavailable.
    const list = await runCli(["tool", "list"], env, dir);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/multiply → demo__calculator +customMCP +yes/);
    expect(list.out).toMatch(/broken +customMCP +yes \(unavailable\) +the entry has no handler/);

    // Five tools reach the agent, more than its maxTools: status says so, and the list is whole.
    const status = await runCli(["status"], env, dir);
    expect(status.out).toMatch(/living room .* 5 · \d+\.\d KiB \(over maxTools 4\)/);
    expect(status.out).toMatch(/warning: living room is given 5 tools, more than maxTools 4/);
    expect(held).toHaveLength(5);

    // From the CLI, through the running server.
    const disabled = await runCli(["tool", "disable", "weather_http"], env, dir);
    expect(disabled.code, disabled.err).toBe(0);
    await cloud.untilTools(agent, (names) => names !== undefined && !names.includes("weather_http"));
    expect(enableOf("weather_http")).toBe(false);

    // From the API.
    const patched = await api("PATCH", "/api/tools/lights", { enabled: false });
    expect(patched).toMatchObject({ status: 200, body: { tool: { name: "lights", enabled: false } } });
    await cloud.untilTools(agent, (names) => names !== undefined && !names.includes("lights"));
    expect(enableOf("lights")).toBe(false);

    // From the dashboard's switch.
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: "en-US" });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(server.url);
    const row = page.locator('#tools tr[data-tool="multiply"]');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator(".target").textContent()).toBe("→ demo__calculator");
    await row.locator('input[data-tool="multiply"]').uncheck();
    await cloud.untilTools(agent, (names) => names !== undefined && !names.includes("multiply"));
    expect(enableOf("multiply")).toBe(false);
    // After a reload the switch shows what was written.
    await page.reload();
    await expect.poll(() => row.locator('input[data-tool="multiply"]').isChecked()).toBe(false);
    expect(problems).toEqual([]);
    await page.close();

    // The original was left alone, and nothing was written under a made-up name.
    const final = readConfig();
    expect(final.mcpServerConfig).toEqual({
      demo: { tools: { calculator: { enable: true } } },
      customMCP: { tools: { p: { enable: false } } },
    });
    expect(
      await cloud.untilTools(agent, (names) => names?.includes("demo__calculator") === true),
    ).not.toContain("multiply");
    // And on again by name.
    expect((await api("PATCH", "/api/tools/multiply", { enabled: true })).status).toBe(200);
    await cloud.untilTools(agent, (names) => names?.includes("multiply") === true);
    expect(enableOf("multiply")).toBe(true);
    expect(server.stdout() + server.stderr()).not.toMatch(/coze-secret-token/);
  }, 90_000);
});

describe("custom tools in the config file, no server running", () => {
  it("checks every entry, names stray switches, and switches a tool by its own name", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "xz-custom-file-"));
    const fileEnv = { HOME: scratch, XDG_STATE_HOME: join(scratch, "state"), NO_COLOR: "1" };
    const file = join(scratch, "xiaozhi.config.json");
    writeFileSync(
      file,
      JSON.stringify({
        mcpEndpoint: [],
        mcpServers: { amap: { command: "node", args: ["amap.js"] } },
        mcpServerConfig: {
          amap: { tools: { maps_weather: { enable: false } } },
          gone: { tools: { x: { enable: true } } },
          customMCP: { tools: { p: { enable: false } } },
        },
        customMCP: {
          tools: [
            {
              name: "weather",
              handler: { type: "mcp", config: { serviceName: "amap", toolName: "maps_weather" } },
            },
            {
              name: "elsewhere",
              handler: { type: "mcp", config: { serviceName: "nowhere", toolName: "t" } },
            },
            { name: "weather_http", handler: { type: "http", url: "http://127.0.0.1:1/" } },
            { name: "weather_http", handler: { type: "http", url: "http://127.0.0.1:2/" } },
            { name: "half", handler: { type: "mcp", config: { serviceName: "amap" } } },
            { name: "nothing" },
            "not an entry",
          ],
        },
      }),
      // Kept to its owner, as a file of tokens should be (else `config check` says so).
      { mode: 0o600 },
    );
    const checked = await capture(["config", "check", "--json"], fileEnv, scratch);
    expect(checked.code, checked.err).toBe(0);
    expect(JSON.parse(checked.out).warnings).toEqual([
      "no usable endpoint in mcpEndpoint: nothing would connect. Put your agents' endpoint URLs there (xiaozhi.me console → your agent → MCP endpoint)",
      'custom tool elsewhere is unavailable: no service "nowhere" in mcpServers',
      "custom tool weather_http is unavailable: another customMCP tool has this name",
      "custom tool half is unavailable: mcp handler without config.serviceName and config.toolName",
      "custom tool nothing is unavailable: the entry has no handler",
      "custom tool customMCP.tools[6] is unavailable: the entry has no name",
      "mcpServerConfig.gone.tools.x switches nothing: no service of that name in mcpServers",
      "mcpServerConfig.customMCP.tools.p switches nothing: no customMCP tool of that name",
    ]);

    const off = await capture(["tool", "disable", "weather_http"], fileEnv, scratch);
    expect(off.code, off.err).toBe(0);
    const written = JSON.parse(readFileSync(file, "utf8"));
    // The first entry of that name, the one agents would be given.
    expect(written.customMCP.tools[2]).toMatchObject({ name: "weather_http", enable: false });
    expect(written.customMCP.tools[3].enable).toBeUndefined();
    expect(Object.keys(written.mcpServerConfig.customMCP.tools)).toEqual(["p"]);
    // A service's tool keeps its own switch.
    expect((await capture(["tool", "enable", "amap__maps_weather"], fileEnv, scratch)).code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).mcpServerConfig.amap).toEqual({
      tools: { maps_weather: { enable: true } },
    });
    const listed = await capture(["tool", "list", "--json"], fileEnv, scratch);
    expect(JSON.parse(listed.out)).toEqual(
      expect.arrayContaining([
        { name: "weather", service: "customMCP", enabled: true, target: "amap__maps_weather" },
        expect.objectContaining({ name: "weather_http", enabled: false }),
        expect.objectContaining({ name: "nothing", unavailable: "the entry has no handler" }),
      ]),
    );
    expect((await capture(["tool", "disable", "nosuch"], fileEnv, scratch)).err).toMatch(
      /tool names are <service>__<tool>, got "nosuch"/,
    );
  });
});
