import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  launchChromium,
  main,
  onLoopback,
  type RunningServer,
  runCli,
  runServer,
  stopServer,
} from "./run-server.js";

// Signing in on the dashboard of a loopback server: a token that cannot go in a header (the config
// takes any) signs in through POST /api/login and is never kept, nor is anything while the session is
// unknown; a password signs in from the box, sent in that request's body only; messages follow the
// language; signing out forgets the tab's token. The login page's words and language picker.
const token = "loopback-token-0123456789abcdef";
const chinese = "测试密码12345";
const ascii = "correct horse battery staple";
/** A token of 16 characters and more, as the config and $XIAOZHI_TOKEN take it. */
const chineseToken = "小智的访问令牌一二三四五六七八九十";

let browser: Browser | undefined;
/** Loopback, `webUI.authToken` and no password. */
let withToken: RunningServer | undefined;
/** Loopback, the Chinese token as `webUI.authToken`, and what `xiaozhi-connect token` prints of it. */
let withChineseToken: (RunningServer & { printed: string }) | undefined;
/** Loopback, no token, the Chinese password. */
let withChinese: RunningServer | undefined;
/** Loopback, no token, an ASCII password. */
let withAscii: RunningServer | undefined;
/** Every interface, as on a NAS. */
let lan: RunningServer | undefined;

/** A config in a scratch directory, with `password` set the way a user sets it; the server's env. */
function prepare(webUI: Record<string, unknown>, password?: string) {
  const dir = mkdtempSync(join(tmpdir(), "xz-signin-"));
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(config, JSON.stringify({ mcpEndpoint: [], mcpServers: {}, webUI }));
  const env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  if (password) {
    const set = spawnSync(process.execPath, [main, "password", "--config", config], {
      input: `${password}\n`,
      env,
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(set.status, set.stderr).toBe(0);
  }
  return { config, env };
}

async function start(webUI: Record<string, unknown>, password?: string, host = "127.0.0.1") {
  const { config, env } = prepare(webUI, password);
  // Five servers and a browser start at once: on a busy machine that takes a while.
  const server = await runServer(["--config", config, "--host", host, "--port", "0"], env, 90_000);
  return Object.assign(server, { token: () => runCli(["token", "--config", config], env, dirname(config)) });
}

beforeAll(async () => {
  // Each kept as it starts, and all awaited: whatever started is stopped at the end, even after a failure.
  const started = await Promise.allSettled([
    start({ authToken: token }).then((s) => (withToken = s)),
    start({ authToken: chineseToken }).then(async (s) => {
      withChineseToken = Object.assign(s, { printed: (await s.token()).out.trim() });
    }),
    start({}, chinese).then((s) => (withChinese = s)),
    start({}, ascii).then((s) => (withAscii = s)),
    start({}, undefined, "0.0.0.0").then((s) => (lan = s)),
    launchChromium().then((b) => (browser = b)),
  ]);
  for (const result of started) if (result.status === "rejected") throw result.reason;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const server of [withToken, withChineseToken, withChinese, withAscii, lan])
    if (server) expect(await stopServer(server)).toBe(0);
});

/** A request as the page made it. */
interface Sent {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A new page (its own cookies and storage) in `locale`, with its errors and every request it made. */
async function open(locale: string, device: { hasTouch?: boolean } = {}) {
  if (!browser) throw new Error("setup failed");
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale, ...device });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  const sent: Sent[] = [];
  page.on("request", (r) =>
    sent.push({ method: r.method(), url: r.url(), headers: r.headers(), body: r.postData() ?? "" }),
  );
  const path = (r: Sent) => new URL(r.url).pathname;
  /** The authorization header of each event-stream request, "" for none. */
  const streams = () =>
    sent.filter((r) => path(r) === "/api/events").map((r) => r.headers.authorization ?? "");
  /** The secret of each `POST /api/login`. */
  const logins = () => sent.filter((r) => path(r) === "/api/login").map((r) => JSON.parse(r.body).secret);
  return { page, problems, sent, streams, logins };
}

// What the tab keeps as its token (as strings: the page's globals are not this file's).
const kept = (page: Page) => page.evaluate<string | null>('sessionStorage.getItem("xz-token")');
const keep = (page: Page, value: string) =>
  page.evaluate(`sessionStorage.setItem("xz-token", ${JSON.stringify(value)})`);
const text = (page: Page, selector: string) => page.locator(selector).textContent();
const submit = (page: Page) => page.click("#auth-form button[type=submit]");
const live = (page: Page) =>
  expect.poll(() => page.locator("#live").getAttribute("class"), { timeout: 10_000 }).toBe("on");
const asked = (page: Page) => page.locator("#auth").waitFor({ state: "visible", timeout: 10_000 });

const words = {
  "en-US": {
    needed: "token required",
    refused: "That token was refused. Check it and try again.",
    signIn: "Sign in",
    signInNeeded: "sign-in required",
    passwordWhy:
      "Sign in with the password set with xiaozhi-connect password, or with the bearer token if xiaozhi-connect token prints one.",
    wrong: "Wrong password or token.",
    limited: "Too many wrong attempts. Try again in 42 s.",
    loginWhy: "Sign in to see and change this server.",
  },
  "zh-CN": {
    needed: "需要令牌",
    refused: "该令牌被拒绝，请检查后重试。",
    signIn: "登录",
    signInNeeded: "需要登录",
    passwordWhy:
      "请用 xiaozhi-connect password 设置的密码登录；如果 xiaozhi-connect token 能显示访问令牌，也可以用它登录。",
    wrong: "密码或令牌不正确。",
    limited: "错误次数过多，请在 42 秒后重试。",
    loginWhy: "请先登录，才能查看和修改这台服务器。",
  },
} as const;

describe("the token box of a loopback server with a token", () => {
  for (const locale of ["en-US", "zh-CN"] as const) {
    it(`signs in with a value that cannot go in a header, keeps nothing, then takes the token (${locale})`, async () => {
      if (!withToken) throw new Error("setup failed");
      const { page, problems, streams, logins } = await open(locale);
      await page.goto(withToken.url);
      await asked(page);
      expect(await page.locator("#auth-token").getAttribute("autocomplete")).toBe("off");

      await page.fill("#auth-token", chinese);
      await submit(page);
      await expect.poll(() => text(page, "#auth-error"), { timeout: 10_000 }).toBe(words[locale].refused);
      expect(logins()).toEqual([chinese]);
      expect(await page.locator("#auth").isVisible()).toBe(true);
      expect(await kept(page)).toBeNull();
      expect(await text(page, "#live")).toBe(words[locale].needed);
      expect(streams()).toEqual([""]);

      await page.fill("#auth-token", token);
      await submit(page);
      await live(page);
      expect(await page.locator("#auth").isVisible()).toBe(false);
      expect(await text(page, "#auth-error")).toBe("");
      expect(await kept(page)).toBe(token);
      expect(streams()).toEqual(["", `Bearer ${token}`]);
      expect(problems).toEqual([]);
      await page.close();
    }, 60_000);
  }

  it("signs in with a kept value that cannot go in a header once, instead of sending it or reconnecting", async () => {
    if (!withToken) throw new Error("setup failed");
    const { page, problems, streams, logins } = await open("zh-CN");
    await page.goto(withToken.url);
    await asked(page);
    await keep(page, chinese);
    await page.reload();
    await asked(page);
    await expect.poll(() => text(page, "#auth-error"), { timeout: 10_000 }).toBe(words["zh-CN"].refused);
    expect(await kept(page)).toBeNull();
    expect(await text(page, "#live")).toBe(words["zh-CN"].needed);
    // Asked once on each load, never with it: no reconnecting to a server that is up.
    expect([streams(), logins()]).toEqual([["", ""], [chinese]]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("signs in with such a value given in the address, and ignores an empty one", async () => {
    if (!withToken) throw new Error("setup failed");
    const { page, problems, streams, logins } = await open("en-US");
    await page.goto(`${withToken.url}#token=`);
    await asked(page);
    expect(await text(page, "#auth-error")).toBe("");
    await page.goto(`${withToken.url}?again#token=${encodeURIComponent(chinese)}`);
    await asked(page);
    await expect.poll(() => text(page, "#auth-error"), { timeout: 10_000 }).toBe(words["en-US"].refused);
    expect(new URL(page.url()).hash).toBe("");
    expect(await kept(page)).toBeNull();
    expect([streams(), logins()]).toEqual([["", ""], [chinese]]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("keeps nothing as a token while the session is unknown: it signs in instead", async () => {
    if (!withToken) throw new Error("setup failed");
    const { page, problems, streams, logins } = await open("en-US");
    await page.route("**/api/session", (route) => route.fulfill({ status: 503, body: "" }));
    await page.goto(withToken.url);
    await asked(page);
    await page.fill("#auth-token", token);
    await submit(page);
    await live(page);
    expect(await kept(page)).toBeNull();
    expect([streams(), logins()]).toEqual([["", ""], [token]]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

describe("the token box of a loopback server with a token no header can carry", () => {
  it("signs in with what `xiaozhi-connect token` prints, from the box and from the address", async () => {
    const server = withChineseToken;
    if (!server) throw new Error("setup failed");
    expect(server.printed).toBe(chineseToken);
    const { page, problems, streams, logins } = await open("zh-CN");
    await page.goto(server.url);
    await asked(page);
    await page.fill("#auth-token", server.printed);
    await submit(page);
    await live(page);
    expect(await page.locator("#auth").isVisible()).toBe(false);
    expect(await page.locator("#account").isVisible()).toBe(true);
    expect(await kept(page)).toBeNull();
    expect([streams(), logins()]).toEqual([["", ""], [chineseToken]]);
    expect(problems).toEqual([]);
    await page.close();

    const linked = await open("en-US");
    await linked.page.goto(`${server.url}#token=${encodeURIComponent(chineseToken)}`);
    await live(linked.page);
    expect(await kept(linked.page)).toBeNull();
    expect(linked.logins()).toEqual([chineseToken]);
    expect(linked.problems).toEqual([]);
    await linked.page.close();
  }, 60_000);
});

describe("the token box of a loopback server with a password", () => {
  for (const [locale, password, name] of [
    ["zh-CN", chinese, "withChinese"],
    ["en-US", ascii, "withAscii"],
  ] as const) {
    it(`says so, and signs in with the password, sent nowhere but the login's body (${locale})`, async () => {
      const server = name === "withChinese" ? withChinese : withAscii;
      if (!server) throw new Error("setup failed");
      const { page, problems, sent } = await open(locale);
      await page.goto(server.url);
      await asked(page);
      await expect.poll(() => text(page, "#token-why"), { timeout: 10_000 }).toBe(words[locale].passwordWhy);
      expect(await text(page, "#auth-form button")).toBe(words[locale].signIn);
      expect(await text(page, "#live")).toBe(words[locale].signInNeeded);
      expect(await page.locator("#auth-token").getAttribute("autocomplete")).toBe("current-password");

      // Switched to the other language and back, the box and its message (with a number in it) follow.
      const other = locale === "zh-CN" ? "en-US" : "zh-CN";
      await page.route("**/api/login", (route) =>
        route.fulfill({ status: 429, headers: { "retry-after": "42" }, body: "" }),
      );
      await page.fill("#auth-token", "not the password");
      await submit(page);
      await expect.poll(() => text(page, "#auth-error"), { timeout: 10_000 }).toBe(words[locale].limited);
      await page.unroute("**/api/login");
      await page.selectOption("#lang", other === "en-US" ? "en" : "zh-CN");
      expect(await text(page, "#live")).toBe(words[other].signInNeeded);
      expect(await text(page, "#token-why")).toBe(words[other].passwordWhy);
      expect(await text(page, "#auth-error")).toBe(words[other].limited);
      await page.selectOption("#lang", locale === "en-US" ? "en" : "zh-CN");
      expect(await text(page, "#auth-form button")).toBe(words[locale].signIn);
      expect(await text(page, "#auth-error")).toBe(words[locale].limited);

      await page.fill("#auth-token", "not the password");
      await submit(page);
      await expect.poll(() => text(page, "#auth-error"), { timeout: 10_000 }).toBe(words[locale].wrong);
      expect(await page.locator("#auth").isVisible()).toBe(true);

      const callLog = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/call-log");
      await page.fill("#auth-token", password);
      await submit(page);
      await live(page);
      expect((await callLog).status()).toBe(200);
      expect(await page.locator("#auth").isVisible()).toBe(false);
      expect(await text(page, "#auth-error")).toBe("");
      expect(await page.locator("#account").isVisible()).toBe(true);
      // Signed in with a session, as on the login page: nothing kept in the tab.
      expect(await kept(page)).toBeNull();
      expect(
        await page.evaluate("JSON.stringify([{ ...sessionStorage }, { ...localStorage }])"),
      ).not.toContain(password);
      // The password went in one request's body, the login's, and nowhere else: no header, no address.
      const carrying = sent.filter((r) =>
        `${decodeURIComponent(r.url)} ${JSON.stringify(r.headers)} ${r.body}`.includes(password),
      );
      expect(carrying.map((r) => [r.method, new URL(r.url).pathname, r.body])).toEqual([
        ["POST", "/api/login", JSON.stringify({ secret: password })],
      ]);
      expect(problems).toEqual([]);

      // Signing out forgets a token the tab kept as well as the session.
      await keep(page, token);
      await page.click("#sign-out");
      await page.waitForURL(/\/login$/);
      expect(await kept(page)).toBeNull();
      await page.close();
      for (const output of [server.stdout(), server.stderr()]) expect(output).not.toContain(password);
    }, 60_000);
  }

  it("takes a tab that kept what cannot be sent, or a refused token, to the dashboard after /login", async () => {
    if (!withChinese) throw new Error("setup failed");
    const { page, problems } = await open("zh-CN");
    await page.goto(withChinese.url);
    await keep(page, chinese);
    await page.goto(`${withChinese.url}login`);
    await page.fill("#secret", chinese);
    await page.click("#submit");
    await page.waitForURL(withChinese.url);
    await live(page);

    // Kept later: this load takes it out of storage and goes on with the session.
    for (const value of [chinese, "not-the-token-of-this-server"]) {
      await keep(page, value);
      await page.reload();
      await live(page);
      expect(await page.locator("#auth").isVisible()).toBe(false);
      expect(await kept(page)).toBeNull();
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

describe("the login page", () => {
  /** The page once it has applied the server's answer to /api/session (it marks its body). */
  async function why(url: string, locale: string, device: { hasTouch?: boolean } = {}) {
    const { page, problems } = await open(locale, device);
    await page.goto(url);
    await page.locator("body[data-session]").waitFor({ state: "attached", timeout: 10_000 });
    return { page, problems };
  }

  for (const locale of ["en-US", "zh-CN"] as const) {
    it(`says the server is reachable beyond this machine only when it is (${locale})`, async () => {
      if (!withAscii || !lan) throw new Error("setup failed");
      const near = await why(`${withAscii.url}login`, locale);
      expect(await near.page.locator("body").getAttribute("data-session")).toBe("loopback");
      expect(await text(near.page, "#why")).toBe(words[locale].loginWhy);
      expect(near.problems).toEqual([]);
      await near.page.close();

      const far = await why(`${onLoopback(lan.url)}login`, locale);
      expect(await far.page.locator("body").getAttribute("data-session")).toBe("beyond");
      expect(await text(far.page, "#why")).toBe(
        locale === "en-US"
          ? "This server is reachable beyond this machine. Sign in to see and change it."
          : "这台服务器可以从本机以外访问。请先登录，才能查看和修改。",
      );
      expect(far.problems).toEqual([]);
      await far.page.close();
    }, 60_000);
  }

  it("gives its language picker a 40 px target on a touch or narrow screen, and a label in the page's language", async () => {
    if (!withAscii) throw new Error("setup failed");
    // A phone, a tablet on its side, a narrow window with a mouse.
    for (const [width, height, hasTouch] of [
      [390, 844, true],
      [1180, 820, true],
      [390, 844, false],
    ] as const) {
      const { page } = await why(`${withAscii.url}login`, "zh-CN", { hasTouch });
      await page.setViewportSize({ width, height });
      const box = await page.locator("#lang").boundingBox();
      const smallest = Math.min(box?.width ?? 0, box?.height ?? 0);
      expect(smallest, `${width} × ${height}`).toBeGreaterThanOrEqual(40);
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBe(width);
      expect(await page.locator("#lang").getAttribute("aria-label")).toBe("语言");
      await page.selectOption("#lang", "en");
      expect(await page.locator("#lang").getAttribute("aria-label")).toBe("Language");
      await page.close();
    }
  }, 60_000);
});
