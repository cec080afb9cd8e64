import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { published, root } from "./published.js";

const bin = (name: string) => join(root, "node_modules/.bin", name);
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: "utf8", timeout: 240_000, stdio: ["ignore", "pipe", "pipe"] });

let tarballs: string[] = [];
let project: string;

beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), "xz-packs-"));
  for (const dir of published)
    run("npx", ["--yes", "pnpm@12.21.0", "pack", "--pack-destination", out], join(root, dir));
  tarballs = readdirSync(out)
    .filter((f) => f.endsWith(".tgz"))
    .map((f) => join(out, f));
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
      expect(files, tarball).not.toMatch(/\.test\.(ts|js)/);
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

  it("installs globally into a prefix: xiaozhi-connect on PATH, starting in the background and stopping", () => {
    const prefix = mkdtempSync(join(tmpdir(), "xz-global-"));
    run(
      "npm",
      ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error", ...tarballs],
      prefix,
    );
    const home = mkdtempSync(join(tmpdir(), "xz-global-home-"));
    const env = { PATH: `${join(prefix, "bin")}:${process.env.PATH ?? ""}`, HOME: home, NO_COLOR: "1" };
    const shell = (args: string[]) =>
      execFileSync("xiaozhi-connect", args, { cwd: home, env, encoding: "utf8", timeout: 60_000 });
    expect(shell(["--version"]).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(shell(["config", "init"])).toMatch(/wrote .*xiaozhi\.config\.json/);
    expect(shell(["start", "-d", "--port", "0"])).toMatch(/ready: dashboard http:\/\/127\.0\.0\.1:\d+\//);
    try {
      expect(JSON.parse(shell(["status", "--json"]))).toMatchObject({ running: true });
    } finally {
      expect(shell(["stop"])).toMatch(/stopped/);
    }
  }, 120_000);

  it("installs the xiaozhi-connect command", () => {
    expect(run(join(project, "node_modules/.bin/xiaozhi-connect"), ["--version"], project).trim()).toMatch(
      /^\d+\.\d+\.\d+$/,
    );
  });
});
