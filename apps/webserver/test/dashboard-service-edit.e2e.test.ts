import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTools, launchChromium, type RunningServer, runServer, stopServer } from "./run-server.js";

// Editing a service from the dashboard keeps what the form does not show, and a server that asks
// for its token on loopback says why in words that are true there, and says so when one is refused.
const token = "loopback-token-0123456789abcdef";
let dir = "";
let configPath = "";
let browser: Browser | undefined;
let server: RunningServer | undefined;

const demo = {
  command: process.execPath,
  args: [demoTools],
  cwd: "",
  env: { DEMO_SECRET: "kept-secret" },
  maxLineBytes: 1_048_576,
  handshakeTimeout: 60_000,
};
const remote = {
  type: "streamable-http",
  url: "http://127.0.0.1:9/mcp",
  headers: { "x-api-key": "kept-header" },
  handshakeTimeout: 5_000,
};

const writeConfig = (mcpServers: Record<string, unknown>) =>
  writeFileSync(
    configPath,
    `${JSON.stringify({ mcpEndpoint: [], mcpServers, webUI: { authToken: token } }, null, 2)}\n`,
  );
const servicesInFile = () => JSON.parse(readFileSync(configPath, "utf8")).mcpServers;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xz-edit-"));
  configPath = join(dir, "xiaozhi.config.json");
  demo.cwd = dir;
  writeConfig({ demo, remote, moving: { command: process.execPath, args: [demoTools] } });
  server = await runServer(["--config", configPath, "--port", "0"]);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
});

/** The dashboard in `locale`, with the token given as #token= when there is one. */
async function open(locale: string, withToken?: string): Promise<{ page: Page; problems: string[] }> {
  if (!browser || !server) throw new Error("setup failed");
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${server.url}${withToken ? `#token=${withToken}` : ""}`);
  return { page, problems };
}

/** Opens the form on `name`, saves it unchanged, and waits for the server's answer. */
async function saveUnchanged(page: Page, name: string): Promise<number> {
  await page.locator(`#services tr[data-service="${name}"] button[data-action="edit"]`).click();
  expect(await page.inputValue("#service-name")).toBe(name);
  const answered = page.waitForResponse(
    (r) => r.url().endsWith(`/api/services/${name}`) && r.request().method() === "PUT",
  );
  await page.click("#service-save");
  return (await answered).status();
}

describe("editing a service from the dashboard", () => {
  it("keeps cwd, timeouts, env and headers when saved unchanged", async () => {
    const { page, problems } = await open("en-US", token);
    await expect.poll(() => page.locator("#services tr[data-service]").count(), { timeout: 10_000 }).toBe(3);

    expect(await saveUnchanged(page, "demo")).toBe(200);
    expect(servicesInFile().demo).toEqual(demo);
    expect(await saveUnchanged(page, "remote")).toBe(200);
    expect(servicesInFile().remote).toEqual(remote);
    await expect
      .poll(() => page.locator('#services tr[data-service="demo"]').getAttribute("data-state"), {
        timeout: 15_000,
      })
      .toBe("up");
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("refuses to save over a service that has become replicated, and keeps its replicas", async () => {
    const { page, problems } = await open("en-US", token);
    const row = page.locator('#services tr[data-service="moving"]');
    await expect.poll(() => row.locator('button[data-action="edit"]').count(), { timeout: 10_000 }).toBe(1);
    await row.locator('button[data-action="edit"]').click();

    // The file changes while the form is open: the service now runs replicas.
    const replicated = {
      replicas: [
        { command: process.execPath, args: [demoTools], cwd: dir },
        { command: process.execPath, args: [demoTools] },
      ],
      strategy: "least-inflight",
      handshakeTimeout: 40_000,
    };
    writeConfig({ ...servicesInFile(), moving: replicated });
    await expect.poll(() => row.locator(".runs").textContent(), { timeout: 15_000 }).toMatch(/replicas up/);
    expect(await row.locator('button[data-action="edit"]').count()).toBe(0);

    let puts = 0;
    page.on("request", (r) => {
      if (r.method() === "PUT") puts++;
    });
    await page.click("#service-save");
    await expect
      .poll(() => page.locator("#service-error").textContent())
      .toBe("moving now runs replicas, which this form cannot edit: edit it in the config file.");
    expect(puts).toBe(0);
    expect(servicesInFile().moving).toEqual(replicated);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

describe("the token prompt on a loopback server with webUI.authToken", () => {
  for (const [locale, why, refused] of [
    [
      "en-US",
      "This server asks for its bearer token: xiaozhi-connect token prints it.",
      "That token was refused. Check it and try again.",
    ],
    [
      "zh-CN",
      "此服务器需要它的访问令牌：运行 xiaozhi-connect token 即可查看。",
      "该令牌被拒绝，请检查后重试。",
    ],
  ] as const) {
    it(`says why it asks, says a wrong token was refused and keeps the box (${locale})`, async () => {
      const { page, problems } = await open(locale);
      const box = page.locator("#auth");
      await expect.poll(() => box.isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await page.locator("#token-why").textContent()).toBe(why);
      expect(await page.locator("#token-why").textContent()).not.toMatch(/beyond|本机以外/);
      expect(await page.locator("#auth-error").textContent()).toBe("");

      await page.fill("#auth-token", "not-the-token");
      await page.click("#auth-form button[type=submit]");
      await expect.poll(() => page.locator("#auth-error").textContent(), { timeout: 10_000 }).toBe(refused);
      expect(await box.isVisible()).toBe(true);

      // The right one is taken: the box and the error go, the page goes live.
      await page.fill("#auth-token", token);
      await page.click("#auth-form button[type=submit]");
      await expect.poll(() => page.locator("#live").getAttribute("class"), { timeout: 10_000 }).toBe("on");
      expect(await box.isVisible()).toBe(false);
      expect(await page.locator("#auth-error").textContent()).toBe("");
      expect(problems).toEqual([]);
      await page.close();
    }, 60_000);
  }
});
