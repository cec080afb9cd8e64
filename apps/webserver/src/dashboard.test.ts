import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { loadDashboard, mountDashboard } from "./dashboard.js";

const sources = new URL("../public/", import.meta.url);
const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

describe("the dashboard's page", () => {
  it("from the sources: index.html, its modules and style sheets as files from this server only", async () => {
    const dashboard = loadDashboard(pathToFileURL(join(tmpdir(), "no-such-dir", "dashboard.html")), sources);
    expect(dashboard.html).toBe(readFileSync(new URL("index.html", sources), "utf8"));
    expect(dashboard.csp).toContain("script-src 'self'; ");
    expect(dashboard.csp).toContain("style-src 'self'; ");
    const app = new Hono();
    mountDashboard(app, dashboard);
    const page = await app.request("/");
    expect(page.headers.get("content-security-policy")).toBe(dashboard.csp);
    expect(await page.text()).toBe(dashboard.html);

    const script = await app.request("/assets/i18n.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toBe(readFileSync(new URL("assets/i18n.js", sources), "utf8"));
    const etag = script.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await app.request("/assets/i18n.js", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect((await app.request("/assets/phone.css")).headers.get("content-type")).toBe(
      "text/css; charset=utf-8",
    );
    const missing = await app.request("/assets/nothing.js");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("built: one page whose inline script and styles, and nothing else, the policy allows by hash", () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-dashboard-"));
    const built = join(dir, "dashboard.html");
    const style = "body { color: red; }";
    const script = 'document.title = "built";';
    writeFileSync(
      built,
      `<html><head><style>${style}</style></head><body><script>${script}</script></body></html>`,
    );
    const dashboard = loadDashboard(pathToFileURL(built), sources);
    expect(dashboard.html).toContain(script);
    expect(dashboard.csp).toContain(`style-src ${sha256(style)}; script-src ${sha256(script)}; `);
    expect(dashboard.csp).not.toContain("unsafe");
  });
});
