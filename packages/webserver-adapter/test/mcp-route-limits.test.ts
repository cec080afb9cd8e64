import { existsSync, watch } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { silentLogger } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WrongTokenLog, wrongTokenWindowMs } from "../src/http/guess-limiter.js";
import { mcpSessionsPerClient } from "../src/http/mcp-clients.js";
import { mcpSessionIdleMs } from "../src/http/mcp-session.js";
import { calcFixture, finish, mcpClient, Stack } from "./harness.js";

const resultsFixture = join(import.meta.dirname, "../../mcp-services/test/fixtures/results-server.mjs");
const allToken = "all-tools-token-0123456789abcdefghij";
const otherToken = "other-client-token-0123456789abcdefghij";
const adminToken = "admin-token-0123456789abcdefghijkl";
const wrongToken = "wrong-token-0123456789abcdefghijkl";

let stack: Stack | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
  await finish(stack);
  stack = undefined;
});

async function start(routes: { authToken?: string; now?: () => number } = {}): Promise<Stack> {
  stack = await Stack.start(
    {
      mcpEndpoint: [],
      mcpServers: {
        calc: { command: process.execPath, args: [calcFixture] },
        res: { command: process.execPath, args: [resultsFixture] },
      },
      clients: [
        { name: "all", token: allToken },
        { name: "other", token: otherToken },
      ],
    },
    routes,
  );
  return stack;
}

/** What a raw request to the stack got back. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** A raw request to the stack, read to its end. */
function send(
  s: Stack,
  options: {
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
  },
): Promise<Answer> {
  const url = new URL(options.path ?? "/mcp", s.base);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "POST",
        headers: {
          accept: "application/json, text/event-stream",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...options.headers,
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text }),
        );
        response.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** An MCP `initialize` request. */
const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

/** Opens a session with a raw `initialize` and returns its id. */
async function openSession(s: Stack, token: string): Promise<string> {
  const answer = await send(s, { headers: { authorization: `Bearer ${token}` }, body: initialize });
  const id = answer.headers["mcp-session-id"];
  if (answer.status !== 200 || typeof id !== "string") {
    throw new Error(`initialize got ${answer.status}: ${answer.text}`);
  }
  return id;
}

/** A `ping` in the session; 200 while it is open, 404 once it is gone. */
function ping(s: Stack, token: string, id: string): Promise<Answer> {
  return send(s, {
    headers: { authorization: `Bearer ${token}`, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" },
    body: { jsonrpc: "2.0", id: 2, method: "ping" },
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const errorCode = (answer: Answer) => (JSON.parse(answer.text) as { error: { code: string } }).error.code;

/** Resolves once a file appears in the stack's folder. */
function appears(s: Stack, path: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(s.dir, () => {
      if (!existsSync(path)) return;
      watcher.close();
      resolve();
    });
  });
}

/** An open GET stream of the session, held until the test ends. */
async function holdStream(s: Stack, token: string, id: string): Promise<void> {
  const controller = new AbortController();
  const response = await fetch(`${s.base}/mcp`, {
    headers: { ...bearer(token), accept: "text/event-stream", "mcp-session-id": id },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  cleanups.push(() => controller.abort());
}

/** Starts a `res__slow` call of an hour in the session; `mark` + ".started" appears once it runs. */
function slowCall(s: Stack, token: string, id: string, mark: string): void {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  void fetch(`${s.base}/mcp`, {
    method: "POST",
    headers: {
      ...bearer(token),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": id,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "res__slow", arguments: { ms: 3_600_000, mark } },
    }),
    signal: controller.signal,
  }).catch(() => {});
}

describe("/mcp guards", () => {
  it("refuses another origin with 403 as the API does; its own origin and none are served", async () => {
    const s = await start();
    for (const method of ["POST", "GET"]) {
      const evil = await send(s, {
        method,
        headers: { ...bearer(allToken), origin: "https://evil.example" },
        ...(method === "POST" ? { body: initialize } : {}),
      });
      expect(evil.status).toBe(403);
      expect(errorCode(evil)).toBe("FORBIDDEN_ORIGIN");
    }
    expect(s.routes?.mcp.sessions).toBe(0);
    const own = await send(s, { headers: { ...bearer(allToken), origin: s.base }, body: initialize });
    expect(own.status).toBe(200);
    expect(await openSession(s, allToken)).toMatch(/\S/);
    expect(s.routes?.mcp.sessions).toBe(2);
  }, 30_000);

  it("serves /mcp/ as /mcp", async () => {
    const s = await start();
    const client = await mcpClient(s.base, allToken, "/mcp/", "slash");
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("calc__add");
  }, 30_000);

  it("answers wrong client tokens with 401 every time, logs them sparingly, and lets the right token in", async () => {
    let clock = 1_000_000;
    const s = await start({ now: () => clock });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const answer = await send(s, { headers: bearer(wrongToken), body: initialize });
      statuses.add(answer.status);
      expect(answer.headers["retry-after"]).toBeUndefined();
    }
    expect([...statuses]).toEqual([401]);
    const refused = () => s.logs.filter((line) => line.includes("MCP client refused"));
    // The first one only: the other 29 wait for the window to end.
    expect(refused()).toHaveLength(1);
    // The same address with the right token is served at once.
    expect(await openSession(s, allToken)).toMatch(/\S/);

    // Still coming as the window ends: one line counts them all.
    for (let i = 0; i < 2; i++) {
      clock += wrongTokenWindowMs / 2;
      expect((await send(s, { headers: bearer(wrongToken), body: initialize })).status).toBe(401);
    }
    expect(refused()).toHaveLength(2);
    expect(refused()[1]).toContain("31 more wrong tokens");
    // Quiet for a whole window: forgotten, so the next one is a first again.
    clock += 2 * wrongTokenWindowMs;
    expect((await send(s, { headers: bearer(wrongToken), body: initialize })).status).toBe(401);
    expect(refused()).toHaveLength(3);
    expect(refused()[2]).toContain("wrong token");
    expect(s.logs.join("\n")).not.toContain(wrongToken);
  }, 30_000);

  it("answers wrong API tokens with 401 every time and lets the right token through", async () => {
    const s = await start({ authToken: adminToken, now: () => 0 });
    const change = (token: string) => send(s, { path: "/api/endpoints", headers: bearer(token), body: {} });
    for (let i = 0; i < 30; i++) {
      const answer = await change(wrongToken);
      expect(answer.status).toBe(401);
      expect(errorCode(answer)).toBe("UNAUTHORIZED");
    }
    // Past the guard: the body is what is wrong.
    expect((await change(adminToken)).status).toBe(400);
    expect(s.logs.filter((line) => line.includes("API request refused"))).toHaveLength(1);
    expect(s.logs.join("\n")).not.toContain(wrongToken);
  }, 30_000);
});

describe("WrongTokenLog", () => {
  function logged(now: () => number) {
    const lines: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_: unknown, message?: string) => void lines.push(message ?? ""),
    };
    return { lines, log: new WrongTokenLog({ logger, message: "refused", now }) };
  }

  it("logs an address's first wrong token, then one line per window, and counts none twice", () => {
    let clock = 0;
    const { lines, log } = logged(() => clock);
    for (let i = 0; i < 100; i++) {
      log.refused("10.0.0.1");
      clock += 1000;
    }
    // 100 tokens over 100 s: the first, and one summary when the first window ended.
    expect(lines).toEqual(["refused: wrong token", "refused: 60 more wrong tokens from 10.0.0.1 over 60 s"]);
    // The 39 held since are told when the address is forgotten, at the next token from anywhere.
    clock += wrongTokenWindowMs;
    log.refused("10.0.0.2");
    expect(lines.slice(2)).toEqual([
      "refused: 39 more wrong tokens from 10.0.0.1 over 39 s",
      "refused: wrong token",
    ]);
    expect(log.size).toBe(1);
  });

  it("follows at most 1000 addresses", () => {
    const { lines, log } = logged(() => 0);
    for (let i = 0; i < 1500; i++) log.refused(`10.0.${i >> 8}.${i & 255}`);
    expect(log.size).toBe(1000);
    expect(lines).toHaveLength(1500);
  });
});

describe("/mcp sessions", () => {
  it("closes a session after 30 minutes without a request", async () => {
    const s = await start();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const id = await openSession(s, allToken);
    vi.advanceTimersByTime(mcpSessionIdleMs - 1000);
    expect((await ping(s, allToken, id)).status).toBe(200);
    // The ping started the idle time again.
    vi.advanceTimersByTime(mcpSessionIdleMs - 1000);
    expect(s.routes?.mcp.sessions).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(s.routes?.mcp.sessions).toBe(0);
    expect((await ping(s, allToken, id)).status).toBe(404);
  }, 30_000);

  it("keeps a session with a call running or a stream open, however long", async () => {
    const s = await start();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const calling = await openSession(s, allToken);
    const listening = await openSession(s, allToken);
    const mark = join(s.dir, "slow");
    const started = appears(s, `${mark}.started`);
    slowCall(s, allToken, calling, mark);
    await started;
    await holdStream(s, allToken, listening);
    vi.advanceTimersByTime(mcpSessionIdleMs + 60_000);
    expect(s.routes?.mcp.sessions).toBe(2);
    expect((await ping(s, allToken, listening)).status).toBe(200);
  }, 30_000);

  it("holds at most 32 sessions per client: the least recently used goes, an open stream does not keep it", async () => {
    const s = await start();
    const ids: string[] = [];
    for (let i = 0; i < mcpSessionsPerClient; i++) ids.push(await openSession(s, allToken));
    // The first is used again, so the second is now the least recently used.
    expect((await ping(s, allToken, ids[0] as string)).status).toBe(200);
    ids.push(await openSession(s, allToken));
    expect(s.routes?.mcp.sessions).toBe(mcpSessionsPerClient);
    expect((await ping(s, allToken, ids[1] as string)).status).toBe(404);
    expect((await ping(s, allToken, ids[0] as string)).status).toBe(200);
    // Another client's sessions are its own.
    await openSession(s, otherToken);
    expect(s.routes?.mcp.sessions).toBe(mcpSessionsPerClient + 1);

    // Streams held open, as by a connection that died unseen, leave room all the same.
    const open = ids.filter((_, i) => i !== 1);
    for (const id of open) await holdStream(s, allToken, id);
    expect(await openSession(s, allToken)).toMatch(/\S/);
    expect(s.routes?.mcp.sessions).toBe(mcpSessionsPerClient + 1);
    // The stream opened first is the least recently used.
    expect((await ping(s, allToken, open[0] as string)).status).toBe(404);
    expect((await ping(s, allToken, open[1] as string)).status).toBe(200);
  }, 60_000);

  it("refuses a new session with 429 only when every one of the client's sessions has a call running", async () => {
    const s = await start();
    const ids: string[] = [];
    for (let i = 0; i < mcpSessionsPerClient; i++) ids.push(await openSession(s, allToken));
    const started = new Set<string>();
    const allStarted = new Promise<void>((resolve) => {
      const watcher = watch(s.dir, (_, name) => {
        if (name?.endsWith(".started")) started.add(name);
        if (started.size < mcpSessionsPerClient) return;
        watcher.close();
        resolve();
      });
      cleanups.push(() => watcher.close());
    });
    for (const [i, id] of ids.entries()) slowCall(s, allToken, id, join(s.dir, `slow-${i}`));
    await allStarted;
    const refused = await send(s, { headers: bearer(allToken), body: initialize });
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe("TOO_MANY_SESSIONS");
    for (const id of ids) expect((await ping(s, allToken, id)).status).toBe(200);
    // Another client is not held back by this one's calls.
    expect(await openSession(s, otherToken)).toMatch(/\S/);
  }, 60_000);

  it("closes the sessions of a client whose token or tool filter changed, and keeps the others", async () => {
    const s = await start();
    const all = await openSession(s, allToken);
    const other = await openSession(s, otherToken);
    const clients = [
      { name: "all", token: allToken, services: ["calc"] },
      { name: "other", token: otherToken },
    ];
    await s.adapter.applyConfig({ ...s.adapter.config, clients });
    await s.until(() => s.routes?.mcp.sessions === 1, 5000, "the changed client's session closed");
    expect((await ping(s, allToken, all)).status).toBe(404);
    expect((await ping(s, otherToken, other)).status).toBe(200);
  }, 30_000);

  it("stops a closed session's idle timer", async () => {
    const s = await start();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    await openSession(s, allToken);
    await openSession(s, allToken);
    await openSession(s, otherToken);
    const armed = vi.getTimerCount();
    await s.routes?.mcp.close();
    expect(s.routes?.mcp.sessions).toBe(0);
    expect(vi.getTimerCount()).toBe(armed - 3);
  }, 30_000);
});
