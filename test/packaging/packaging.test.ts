import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { published, root } from "./published.js";

const bin = (name: string) => join(root, "node_modules/.bin", name);
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: "utf8", timeout: 240_000, stdio: ["ignore", "pipe", "pipe"] });

let tarballs: string[] = [];
let project: string;
const packs = mkdtempSync(join(tmpdir(), "xz-packs-"));
const installer = join(root, "scripts/install-global.mjs");

beforeAll(() => {
  // Packed as the install script packs them (pnpm rewrites the workspace ranges).
  tarballs = run(process.execPath, [installer, "--pack-only", packs], root).trim().split("\n");
  // A scratch project outside the workspace, installed with npm from the tarballs alone.
  project = mkdtempSync(join(tmpdir(), "xz-consumer-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], project);
  for (const script of ["plain.mjs", "di.mjs"])
    copyFileSync(join(import.meta.dirname, script), join(project, script));
}, 300_000);

describe("the packages as npm users get them", () => {
  it("packs every package with its built files and no workspace: ranges", () => {
    expect(tarballs).toHaveLength(published.length);
    for (const tarball of tarballs) {
      const files = run("tar", ["-tzf", tarball], root);
      expect(files, tarball).toMatch(/package\/dist\/index\.js/);
      expect(files, tarball).toMatch(/package\/dist\/index\.d\.ts/);
      expect(files, tarball).not.toMatch(/\.test(-helpers)?\.(ts|js)/);
      expect(run("tar", ["-xzOf", tarball, "package/package.json"], root), tarball).not.toContain(
        "workspace:",
      );
    }
  });

  it("passes publint and are-the-types-wrong (ESM-only profile)", () => {
    for (const tarball of tarballs) {
      expect(() => run(bin("publint"), ["run", tarball, "--strict"], root), tarball).not.toThrow();
      expect(
        () => run(bin("attw"), [tarball, "--profile", "esm-only", "--format", "table"], root),
        tarball,
      ).not.toThrow();
    }
  }, 120_000);

  it("runs core + transport-ws + balancer without DI from an npm install", () => {
    const result = JSON.parse(run(process.execPath, ["plain.mjs"], project).trim());
    expect(result).toEqual({ connected: 2, listed: ["demo__hello"], called: "hello", rtt: "number" });
  });

  it("runs the adapter with DI from an npm install, skipping a placeholder", () => {
    const result = JSON.parse(run(process.execPath, ["di.mjs"], project).trim().split("\n").at(-1) ?? "");
    expect(result.endpoints).toHaveLength(1);
    expect(result.endpoints[0]).toMatchObject({
      state: "connected",
      url: expect.stringMatching(/token=<masked:/),
    });
  });

  it("installs the command without a clone's tree: one package globally, one hono and one MCP SDK, JSON 404/405", async () => {
    const prefix = mkdtempSync(join(tmpdir(), "xz-global-"));
    const installed = run(process.execPath, [installer, "--tarballs", packs, "--prefix", prefix], root);
    expect(installed).toMatch(`installed @xiaozhi-connect/webserver@`);
    // The hint to remove it acts on the same prefix, not on npm's default global folder.
    expect(installed).toContain(`npm uninstall --global --prefix ${prefix} @xiaozhi-connect/webserver`);
    // One global package: the app; the libraries are in its tree, not beside it.
    const global = join(prefix, "lib/node_modules");
    expect(readdirSync(join(global, "@xiaozhi-connect"))).toEqual(["webserver"]);
    const tree = join(global, "@xiaozhi-connect/webserver");
    for (const name of ["hono", "@modelcontextprotocol/sdk"]) {
      expect(copiesOf(prefix, name), name).toHaveLength(1);
      // Every package of ours that loads it, the app included, reaches that one copy.
      const reached = new Set(ours(tree).map((dir) => reach(dir, name)));
      expect([...reached], name).toEqual([copiesOf(prefix, name)[0]]);
    }

    const home = mkdtempSync(join(tmpdir(), "xz-global-home-"));
    const env = { PATH: `${join(prefix, "bin")}:${process.env.PATH ?? ""}`, HOME: home, NO_COLOR: "1" };
    const shell = (args: string[]) =>
      execFileSync("xiaozhi-connect", args, { cwd: home, env, encoding: "utf8", timeout: 60_000 });
    expect(shell(["--version"]).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(shell(["config", "init"])).toMatch(/wrote .*xiaozhi\.config\.json/);
    const started = shell(["start", "-d", "--port", "0"]);
    const url = /ready: dashboard (http:\/\/127\.0\.0\.1:\d+\/)/.exec(started)?.[1] as string;
    try {
      expect(url).toBeDefined();
      const missing = await fetch(new URL("nope", url));
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
      const wrong = await fetch(new URL("api/status", url), { method: "DELETE" });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get("allow")).toMatch(/GET/);
      expect(await wrong.json()).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
      const status = await fetch(new URL("api/status", url));
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({ config: { path: join(home, "xiaozhi.config.json") } });
      expect(JSON.parse(shell(["status", "--json"]))).toMatchObject({ running: true });
    } finally {
      expect(shell(["stop"])).toMatch(/stopped/);
    }
  }, 300_000);

  it("installs the xiaozhi-connect command", () => {
    expect(run(join(project, "node_modules/.bin/xiaozhi-connect"), ["--version"], project).trim()).toMatch(
      /^\d+\.\d+\.\d+$/,
    );
  });
});

/** Every installed copy of package `name` under `dir`, by its folder. */
function copiesOf(dir: string, name: string): string[] {
  const found: string[] = [];
  const visit = (folder: string, depth: number) => {
    if (depth > 40) return;
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(folder, entry.name);
      if (path.endsWith(`node_modules/${name}`) && existsSync(join(path, "package.json"))) found.push(path);
      visit(path, depth + 1);
    }
  };
  visit(dir, 0);
  return found;
}

/** The folders of our packages in an installed tree. */
function ours(tree: string): string[] {
  const scope = join(tree, "node_modules/@xiaozhi-connect");
  return [tree, ...(existsSync(scope) ? readdirSync(scope).map((name) => join(scope, name)) : [])].filter(
    (dir) => {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      return Object.keys(manifest.dependencies ?? {}).some(
        (d) => d === "hono" || d.startsWith("@modelcontextprotocol/"),
      );
    },
  );
}

/** Where Node's lookup from `from` finds package `name`: the first node_modules/<name> upwards. */
function reach(from: string, name: string): string | undefined {
  for (let dir = realpathSync(from); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
