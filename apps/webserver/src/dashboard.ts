import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { notFound } from "@xiaozhi-connect/webserver-adapter";
import type { Hono } from "hono";

/** The dashboard as this server serves it: its page, the policy for it, and its files by name. */
export interface Dashboard {
  readonly html: string;
  /** The Content-Security-Policy of the page: only this server's code and styles run. */
  readonly csp: string;
  /** `public/assets`: the page's modules and style sheets as files (what the built page inlines). */
  readonly assets: ReadonlyMap<
    string,
    { readonly body: string; readonly type: string; readonly etag: string }
  >;
}

const types: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const policy = (styles: string, scripts: string) =>
  `default-src 'self'; img-src 'self' data:; style-src ${styles}; script-src ${scripts}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;

const hashOf = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/**
 * Reads the dashboard once: the built page (`built`, made by `scripts/build-dashboard.mjs`, with its
 * script and styles inline, allowed by their hashes) when there is one, else `sources/index.html`
 * with its modules and style sheets as files from this server (a server run from src/, in tests).
 */
export function loadDashboard(built: URL, sources: URL): Dashboard {
  const dir = new URL("assets/", sources);
  const assets = new Map<string, { body: string; type: string; etag: string }>();
  for (const name of readdirSync(dir)) {
    const type = types[extname(name)];
    if (!type) continue;
    const body = readFileSync(new URL(name, dir), "utf8");
    assets.set(name, { body, type, etag: `"${createHash("sha1").update(body).digest("base64url")}"` });
  }
  if (!existsSync(built)) {
    return {
      html: readFileSync(new URL("index.html", sources), "utf8"),
      csp: policy("'self'", "'self'"),
      assets,
    };
  }
  const html = readFileSync(built, "utf8");
  return { html, csp: policy(inlineHashes(html, "style"), inlineHashes(html, "script")), assets };
}

/** The login page (`login.html`, its style and script inline), with the policy allowing just them. */
export function loadLoginPage(sources: URL): { readonly html: string; readonly csp: string } {
  const html = readFileSync(new URL("login.html", sources), "utf8");
  return { html, csp: policy(inlineHashes(html, "style"), inlineHashes(html, "script")) };
}

const inlineHashes = (html: string, tag: string) =>
  [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))]
    .map((m) => hashOf(m[1] ?? ""))
    .join(" ");

/** Serves the login page at `/login`: the one page anyone may load on a server that needs a login. */
export function mountLoginPage(app: Hono, page: { readonly html: string; readonly csp: string }): void {
  app.get("/login", (c) => {
    c.header("Content-Security-Policy", page.csp);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    return c.html(page.html);
  });
}

/** Serves the dashboard at `/` and its files at `/assets/<name>`. */
export function mountDashboard(app: Hono, dashboard: Dashboard): void {
  app.get("/", (c) => {
    c.header("Content-Security-Policy", dashboard.csp);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    return c.html(dashboard.html);
  });
  app.get("/assets/:name", (c) => {
    const asset = dashboard.assets.get(c.req.param("name"));
    if (!asset) return notFound(c);
    c.header("X-Content-Type-Options", "nosniff");
    // Checked again on every load (a new version must show at once), sent again only when changed.
    c.header("Cache-Control", "no-cache");
    c.header("ETag", asset.etag);
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("Content-Type", asset.type);
    return c.body(asset.body);
  });
}
