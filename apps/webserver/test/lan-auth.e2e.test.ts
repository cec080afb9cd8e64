import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  demoTools,
  launchChromium,
  main,
  onLoopback,
  type RunningServer,
  runServer,
  stopServer,
  waitForOutput,
} from "./run-server.js";

// A server bound to every interface, as on a NAS: every page and route behind a login, with a
// password set from the command line and the token it generated. Requests come from loopback, but
// what counts is where the server listens.
const password = "correct horse battery staple";
const metricsToken = "scrape-only-token-0123456789";
let dir: string;
let config: string;
let env: Record<string, string>;
let server: RunningServer | undefined;
let base = "";
let token = "";
let browser: Browser | undefined;
/** Every answer body seen, checked at the end for secrets. */
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xz-lan-"));
  config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: [],
      mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
      webUI: { metricsToken },
    }),
  );
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  const set = spawnSync(process.execPath, [main, "password", "--config", config], {
    input: `${password}\n`,
    env,
    cwd: dir,
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(set.status, set.stderr).toBe(0);
  expect(set.stdout + set.stderr).not.toContain(password);
  const stored = JSON.parse(readFileSync(config, "utf8")).webUI.password as string;
  expect(stored).toMatch(/^scrypt:16384:8:1:/);
  server = await runServer(["--config", config, "--host", "0.0.0.0", "--port", "0"], env);
  base = onLoopback(server.url);
  token = /ready: dashboard \S+#token=(\S+)/.exec(server.stdout())?.[1] ?? "";
  expect(token).toMatch(/^[\w-]{32}$/);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await stopServer(server)).toBe(0);
});

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${base}${path.replace(/^\//, "")}`, { redirect: "manual", ...init });
  seen.push(await response.clone().text());
  return response;
}

async function login(secret: string): Promise<Response> {
  return request("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ secret }),
  });
}

const cookieOf = (response: Response) => (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

describe("a server reachable beyond loopback", () => {
  it("answers 401 on every route but the login page and /healthz without auth", async () => {
    const routes: [string, string][] = [
      ["GET", "/api/endpoints"],
      ["GET", "/api/services"],
      ["GET", "/api/tools"],
      ["GET", "/api/history"],
      ["GET", "/api/status"],
      ["GET", "/api/cluster"],
      ["GET", "/api/clients"],
      ["GET", "/api/events"],
      ["GET", "/metrics"],
      ["GET", "/"],
      ["GET", "/assets/dashboard.js"],
      ["GET", "/nowhere"],
      ["POST", "/api/endpoints"],
      ["PATCH", "/api/tools/demo__clock"],
      ["DELETE", "/api/services/demo"],
      ["POST", "/api/logout/all"],
    ];
    for (const [method, path] of routes) {
      const answer = await request(path, { method });
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 401 });
    }
    // A browser asking for a page is sent to the login page instead.
    const page = await request("/", { headers: { accept: "text/html" } });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login");
    expect((await request("/login")).status).toBe(200);
    expect((await request("/healthz")).status).toBe(200);
    // The scrape-only token opens /metrics and nothing else.
    const scrape = { headers: { authorization: `Bearer ${metricsToken}` } };
    expect((await request("/metrics", scrape)).status).toBe(200);
    expect((await request("/api/status", scrape)).status).toBe(401);
    // The token opens every route.
    expect((await request("/api/status", { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
  });

  it("signs in with the password or the token; a session cookie is HttpOnly, SameSite=Strict, expiring", async () => {
    expect((await login("not the password")).status).toBe(401);
    const byPassword = await login(password);
    expect(byPassword.status).toBe(204);
    const cookie = byPassword.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^xz_session=[\w-]{43}; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict$/);
    const status = await request("/api/status", { headers: { cookie: cookieOf(byPassword) } });
    expect(status.status).toBe(200);
    expect((await login(token)).status).toBe(204);

    // Signed out, the cookie opens nothing.
    const out = await request("/api/logout", {
      method: "POST",
      headers: { cookie: cookieOf(byPassword), origin: new URL(base).origin },
    });
    expect(out.status).toBe(204);
    expect((await request("/api/status", { headers: { cookie: cookieOf(byPassword) } })).status).toBe(401);
  });

  it("refuses a change carrying the cookie from another origin, or from no page at all", async () => {
    const cookie = cookieOf(await login(password));
    const add = (headers: Record<string, string>) =>
      request("/api/clients", {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify({ name: "intruder" }),
      });
    expect((await add({ origin: "http://evil.example" })).status).toBe(403);
    expect((await add({})).status).toBe(403);
    expect((await add({ "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect(JSON.parse(readFileSync(config, "utf8")).clients).toBeUndefined();
  });

  it("works in Chromium: the login page in both languages, then the dashboard with its changes, then sign out", async () => {
    if (!browser || !server) throw new Error("setup failed");
    const page = await browser.newPage({ locale: "zh-CN" });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("dialog", (dialog) => void dialog.accept());
    const local = onLoopback(server.url, "localhost");
    await page.goto(local);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.locator("#submit").textContent()).toBe("登录");
    await page.selectOption("#lang", "en");
    expect(await page.locator("#submit").textContent()).toBe("Sign in");

    await page.fill("#secret", password);
    await page.click("#submit");
    await page.waitForURL(`${local}`);
    await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).toBe("live");
    expect(await page.locator("#account").isVisible()).toBe(true);

    // A change from the dashboard goes through with the session.
    await page.fill("#client-name", "phone");
    await page.click("#client-add");
    await expect
      .poll(() => page.locator('#clients tr[data-client="phone"]').count(), { timeout: 10_000 })
      .toBe(1);
    const html = await page.content();
    seen.push(html);

    await page.click("#sign-out-all");
    await page.waitForURL(/\/login$/);
    await page.goto(local);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("signs in only from its own page, with JSON; a bad body is no guess", async () => {
    const attempt = (headers: Record<string, string>, body: string) =>
      request("/api/login", { method: "POST", headers, body });
    const secret = JSON.stringify({ secret: password });
    // A form on another site posts text/plain without asking: it neither signs in nor guesses.
    expect(
      (await attempt({ "content-type": "text/plain", origin: "http://evil.example" }, secret)).status,
    ).toBe(403);
    expect(
      (await attempt({ "content-type": "application/json", origin: "http://evil.example" }, secret)).status,
    ).toBe(403);
    expect((await attempt({ "content-type": "text/plain" }, secret)).status).toBe(415);
    for (const body of ["{bad", "null", JSON.stringify({ secret: 5 })])
      expect((await attempt({ "content-type": "application/json" }, body)).status).toBe(400);
    // Four wrong guesses after those: still 401, not the lock the fifth miss would start.
    for (let i = 0; i < 4; i++) expect((await login(`miss ${i}`)).status).toBe(401);
    expect((await login(password)).status).toBe(204);
  });

  it("ends the event stream of a session that signs out", async () => {
    const cookie = cookieOf(await login(password));
    const stream = await fetch(`${base}api/events`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    // The snapshot first: the stream is open and served.
    let text = "";
    while (!text.includes("event: snapshot")) text += new TextDecoder().decode((await reader.read()).value);
    const out = await request("/api/logout", {
      method: "POST",
      headers: { cookie, origin: new URL(base).origin },
    });
    expect(out.status).toBe(204);
    const drained = (async () => {
      for (;;) if ((await reader.read()).done) return "ended";
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const open = new Promise((resolve) => {
      timer = setTimeout(() => resolve("still open after 10 s"), 10_000);
    });
    expect(await Promise.race([drained, open])).toBe("ended");
    clearTimeout(timer);
  });

  it("slows a guesser down: 20 wrong passwords in a row are refused with 429, and the lock is logged", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login(`guess ${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    const limited = await login(password);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    if (server) await waitForOutput(server, /login attempts limited/);
  });

  it("prints the token again with `xiaozhi-connect token`, and says so when no server runs", () => {
    const cli = (args: string[], home = env) =>
      spawnSync(process.execPath, [main, ...args], {
        env: home,
        cwd: dir,
        encoding: "utf8",
        timeout: 20_000,
      });
    const plain = cli(["token", "--config", config]);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(`${token}\n`);
    expect(JSON.parse(cli(["token", "--json", "--config", config]).stdout)).toMatchObject({ token });
    const elsewhere = { ...env, XDG_STATE_HOME: join(dir, "no-state") };
    const none = cli(["token", "--config", config], elsewhere);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/No xiaozhi-connect server is running for this config/);
    expect(none.stdout).toBe("");
  });

  it("shows no token, password or hash in any answer, page or log", () => {
    const hash = JSON.parse(readFileSync(config, "utf8")).webUI.password as string;
    const everything = [...seen, server?.stderr() ?? ""].join("\n");
    for (const secret of [token, password, hash, metricsToken]) expect(everything).not.toContain(secret);
    // The token is printed once, at start, in the dashboard link, and only there.
    const out = server?.stdout() ?? "";
    expect(out.split(token).length - 1).toBe(1);
    expect(out).not.toContain(password);
  });
});
