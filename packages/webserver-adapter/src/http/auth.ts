import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { type Logger, silentLogger } from "@xiaozhi-connect/core";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { GuessLimiter, tooManyAttempts, WrongTokenLog } from "./guess-limiter.js";

/** How the WebServer's HTTP side is protected. */
export interface HttpAuthOptions {
  /** The bearer token: it opens every route, and signs in on the login page. */
  readonly token?: string;
  /** A password for the login page, as `hashPassword` wrote it (`scrypt:…`). */
  readonly passwordHash?: string;
  /** A token that opens `/metrics` only, for a scraper. */
  readonly metricsToken?: string;
  /**
   * Every route needs auth (the dashboard, reads, the event stream, `/metrics`), except the login
   * page, `/healthz` and `/mcp` (which checks its own clients). Meant for a server reachable beyond
   * loopback. Otherwise only changes and the event stream need it, and only when a token is set.
   */
  readonly everything?: boolean;
  /** How long a login lasts, ms. Default 7 days. */
  readonly sessionTtlMs?: number;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** Who a request is: through the token, a session from the login page, or the metrics token. */
export type Caller =
  | { readonly via: "token" }
  | { readonly via: "session"; readonly id: string }
  | { readonly via: "metrics" };

interface Session {
  readonly expiresAt: number;
}

export const sessionCookie = "xz_session";
const defaultTtlMs = 7 * 24 * 3600_000;
/** Sessions kept at most: a flood of logins cannot grow memory without end. */
const maxSessions = 1000;

/** A secret as compared: its SHA-256, so every comparison is of equal lengths and constant time. */
export const digest = (value: string): Buffer => createHash("sha256").update(value).digest();
const same = (given: string, expected: Buffer | undefined) =>
  expected !== undefined && timingSafeEqual(digest(given), expected);

/**
 * Logins, sessions and who may do what on the WebServer's HTTP side. A session is an opaque id in
 * an HttpOnly, SameSite=Strict cookie (Secure over TLS or behind a proxy that says so), kept in
 * memory with an expiry: a restart signs everyone out. Failed logins are counted per address: after
 * a few, each further one locks the address out for twice as long, up to 15 minutes, and the lock
 * is logged. A wrong bearer token is only refused (401) and logged sparingly (`WrongTokenLog`):
 * tokens are too long to guess, so locking would only hurt honest clients. No timer runs: expired
 * entries go when they are next looked at, or to make room.
 */
export class HttpAuth {
  readonly #token: Buffer | undefined;
  readonly #metricsToken: Buffer | undefined;
  readonly #sessions = new Map<string, Session>();
  /** What to call when a session ends, by session: the event streams it opened. */
  readonly #onSignOut = new Map<string, Set<() => void>>();
  readonly #guesses: GuessLimiter;
  readonly #wrongTokens: WrongTokenLog;
  readonly #ttl: number;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(private readonly options: HttpAuthOptions = {}) {
    this.#token = options.token ? digest(options.token) : undefined;
    this.#metricsToken = options.metricsToken ? digest(options.metricsToken) : undefined;
    this.#ttl = options.sessionTtlMs ?? defaultTtlMs;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#guesses = new GuessLimiter(this.#now);
    this.#wrongTokens = new WrongTokenLog({
      logger: this.#logger,
      message: "API request refused",
      now: this.#now,
    });
  }

  /** Whether anything can sign in: a token or a password is set. */
  get enabled(): boolean {
    return this.#token !== undefined || this.options.passwordHash !== undefined;
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Who the request is, from its bearer token or its session cookie; undefined when nobody. */
  caller(c: Context): Caller | undefined {
    const bearer = bearerToken(c.req.header("authorization"));
    if (bearer) {
      if (same(bearer, this.#token)) return { via: "token" };
      if (same(bearer, this.#metricsToken)) return { via: "metrics" };
      return undefined;
    }
    const id = getCookie(c, sessionCookie);
    if (!id) return undefined;
    const key = digest(id).toString("base64url");
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      this.#signedOut(key);
      return undefined;
    }
    return { via: "session", id: key };
  }

  /**
   * The guard in front of every route. With `everything`, a request without auth gets 401
   * (`LOGIN_REQUIRED`), and a page request is sent to the login page; otherwise changes and the
   * event stream need auth when a token is set. A change made with a session cookie must come from
   * this server's own pages (`Origin`, or `Sec-Fetch-Site: same-origin`): the cookie alone is not
   * enough, whatever a browser does with SameSite.
   */
  guard(): MiddlewareHandler {
    return async (c, next) => {
      const path = c.req.path;
      if (open.has(path) || path === "/mcp" || path === "/mcp/") return next();
      const method = c.req.method;
      const change = method !== "GET" && method !== "HEAD";
      const origin = c.req.header("origin");
      if (change && origin && !sameOrigin(origin, c.req.header("host"))) {
        return fail(c, 403, "FORBIDDEN_ORIGIN", "cross-origin requests are not allowed");
      }
      // The event stream and the call log (arguments and results) are never for anyone but a user.
      const needed =
        this.options.everything ||
        (this.enabled && (change || path === "/api/events" || path === "/api/call-log"));
      if (!needed) return next();
      const caller = this.caller(c);
      if (caller?.via === "metrics" && path !== "/metrics") return this.#refuse(c);
      if (!caller) {
        if (bearerToken(c.req.header("authorization")) !== undefined) {
          this.#wrongTokens.refused(addressOf(c), { path });
        }
        return this.#refuse(c);
      }
      if (caller.via === "session" && change && !origin && c.req.header("sec-fetch-site") !== "same-origin") {
        return fail(c, 403, "FORBIDDEN_ORIGIN", "a change must come from this server's own page");
      }
      return next();
    };
  }

  /**
   * Calls `end` once the session the request was made with ends: signed out (there or everywhere),
   * expired, or pushed out by newer ones. Nothing for a request made with a token. Returns how to
   * stop watching.
   */
  whenSignedOut(c: Context, end: () => void): () => void {
    const caller = this.caller(c);
    if (caller?.via !== "session") return () => {};
    const id = caller.id;
    let ends = this.#onSignOut.get(id);
    if (!ends) {
      ends = new Set();
      this.#onSignOut.set(id, ends);
    }
    ends.add(end);
    // And when the session expires, though no request asks about it then.
    const expiresAt = this.#sessions.get(id)?.expiresAt ?? this.#now();
    const expiry = setTimeout(end, Math.min(Math.max(0, expiresAt - this.#now()), maxTimerMs));
    expiry.unref();
    return () => {
      clearTimeout(expiry);
      ends.delete(end);
      if (ends.size === 0 && this.#onSignOut.get(id) === ends) this.#onSignOut.delete(id);
    };
  }

  #signedOut(id: string): void {
    const ends = this.#onSignOut.get(id);
    this.#onSignOut.delete(id);
    for (const end of ends ?? []) end();
  }

  /** `POST /api/login`, `POST /api/logout`, `POST /api/logout/all` and `GET /api/session`. */
  mount(app: Hono): void {
    app.post("/api/login", async (c) => {
      const address = addressOf(c);
      const now = this.#now();
      const wait = this.#guesses.retryAfter(address);
      if (wait > 0) return tooManyAttempts(c, wait);
      // Only this server's own page signs in: a form on another site (which may post text/plain
      // without asking) can neither guess nor lock its owner out. Neither counts as a guess.
      const origin = c.req.header("origin");
      if (origin && !sameOrigin(origin, c.req.header("host"))) {
        return fail(c, 403, "FORBIDDEN_ORIGIN", "cross-origin requests are not allowed");
      }
      const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
      if (type !== "application/json") {
        return fail(c, 415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
      }
      const body = (await c.req.json().catch(() => undefined)) as { secret?: unknown } | null | undefined;
      if (typeof body?.secret !== "string") {
        return fail(c, 400, "BAD_REQUEST", 'send {"secret": "<password or token>"}');
      }
      const secret = body.secret;
      if (!secret || !(await this.#matches(secret))) {
        const guess = this.#guesses.fail(address);
        if (guess.retryAfterS > 0) {
          this.#logger.warn(
            { address, failures: guess.count, retryAfterS: guess.retryAfterS },
            "login attempts limited: too many wrong secrets from this address",
          );
          return tooManyAttempts(c, guess.retryAfterS);
        }
        return fail(c, 401, "LOGIN_FAILED", "wrong password or token");
      }
      this.#guesses.forget(address);
      const id = randomBytes(32).toString("base64url");
      this.#remember(digest(id).toString("base64url"), { expiresAt: now + this.#ttl });
      setCookie(c, sessionCookie, id, {
        httpOnly: true,
        sameSite: "Strict",
        secure: isSecure(c),
        path: "/",
        maxAge: Math.floor(this.#ttl / 1000),
      });
      this.#logger.info({ address }, "signed in");
      return c.body(null, 204);
    });
    app.post("/api/logout", (c) => {
      const caller = this.caller(c);
      if (caller?.via === "session") {
        this.#sessions.delete(caller.id);
        this.#signedOut(caller.id);
      }
      deleteCookie(c, sessionCookie, { path: "/", secure: isSecure(c) });
      return c.body(null, 204);
    });
    app.post("/api/logout/all", (c) => {
      const count = this.#sessions.size;
      this.#sessions.clear();
      for (const id of [...this.#onSignOut.keys()]) this.#signedOut(id);
      deleteCookie(c, sessionCookie, { path: "/", secure: isSecure(c) });
      this.#logger.info({ address: addressOf(c), sessions: count }, "signed out everywhere");
      return c.body(null, 204);
    });
    app.get("/api/session", (c) => {
      const caller = this.caller(c);
      return c.json({
        signedIn: caller !== undefined,
        via: caller?.via ?? null,
        loginRequired: this.options.everything === true,
        password: this.options.passwordHash !== undefined,
      });
    });
  }

  async #matches(secret: string): Promise<boolean> {
    const byToken = same(secret, this.#token);
    const hash = this.options.passwordHash;
    // The password is checked whatever the token said, so both take the same time.
    const byPassword = hash ? await verifyPassword(secret, hash) : false;
    return byToken || byPassword;
  }

  #remember(key: string, session: Session): void {
    const now = this.#now();
    const forget = (k: string) => {
      this.#sessions.delete(k);
      this.#signedOut(k);
    };
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) forget(k);
    if (this.#sessions.size >= maxSessions) forget(this.#sessions.keys().next().value as string);
    this.#sessions.set(key, session);
  }

  #refuse(c: Context): Response {
    c.header("WWW-Authenticate", 'Bearer realm="xiaozhi-connect"');
    if (this.options.everything) {
      const page = c.req.method === "GET" && (c.req.header("accept") ?? "").includes("text/html");
      if (page) return c.redirect("/login", 302);
      return fail(c, 401, "LOGIN_REQUIRED", "sign in first, or send the bearer token");
    }
    return fail(c, 401, "UNAUTHORIZED", "a valid bearer token is required");
  }
}

/** Routes anyone may reach: the login page, its call, and the liveness probe. */
/** The longest delay a timer takes (about 24.8 days); a session lasts a week by default. */
const maxTimerMs = 2 ** 31 - 1;

const open = new Set(["/login", "/api/login", "/api/session", "/healthz"]);

const scryptParams = { N: 16384, r: 8, p: 1 } as const;

/** A password as the config keeps it: `scrypt:N:r:p:<salt>:<hash>`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, scryptParams);
  const { N, r, p } = scryptParams;
  return `scrypt:${N}:${r}:${p}:${salt.toString("base64url")}:${hash.toString("base64url")}`;
}

/** Whether `password` is the one `hash` was made from; false for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = /^scrypt:(\d+):(\d+):(\d+):([\w-]+):([\w-]+)$/.exec(hash);
  if (!parts) return false;
  const expected = Buffer.from(parts[5] as string, "base64url");
  const derived = await derive(password, Buffer.from(parts[4] as string, "base64url"), {
    N: Number(parts[1]),
    r: Number(parts[2]),
    p: Number(parts[3]),
  }).catch(() => undefined);
  return derived !== undefined && derived.length === expected.length && timingSafeEqual(derived, expected);
}

function derive(
  password: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { ...params, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

function isSecure(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}

/** The address a request came from (the socket's peer), when the server knows it. */
export function remoteAddress(c: Context): string | undefined {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress;
}

const addressOf = (c: Context): string => remoteAddress(c) ?? "unknown";

/** The token of an `Authorization: Bearer <token>` header; undefined without one. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim() || undefined;
}

/** Whether `origin` is this server's own, as the request's `Host` names it (checked by the host guard). */
export function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** An error answered in the API's shape, `{error:{code,message}}`. */
export function fail(
  c: Context,
  status: 400 | 401 | 403 | 404 | 415 | 429,
  code: string,
  message: string,
): Response {
  return c.json({ error: { code, message } }, status);
}
