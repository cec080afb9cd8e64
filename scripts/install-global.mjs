#!/usr/bin/env node
// Installs the `xiaozhi-connect` command from this clone, the way `npm install -g
// @xiaozhi-connect/webserver` will once the packages are on the registry: the packages are packed
// (their workspace ranges become version ranges), served to npm from a registry on loopback for
// the @xiaozhi-connect scope only, and npm installs the app globally with everything else from the
// usual registry. One package installed globally gets one dependency tree, so the app and the
// libraries share one copy of hono and of the MCP SDK.
//
//   node scripts/install-global.mjs [--prefix DIR] [--tarballs DIR] [--pack-only DIR]
//
// --prefix DIR     npm's global prefix to install into (the command lands in DIR/bin)
// --tarballs DIR   install these already packed tarballs instead of packing again
// --pack-only DIR  pack every package into DIR and stop
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";

const root = resolve(import.meta.dirname, "..");
const scope = "@xiaozhi-connect";
const app = `${scope}/webserver`;

/** pnpm at the version the repository pins, as the README's commands run it. */
function pnpm(args, cwd) {
  execFileSync("npx", ["--yes", "pnpm@12.21.0", ...args], { cwd, stdio: ["ignore", "ignore", "inherit"] });
}

/** Packs every published package into `dir` (pnpm rewrites `workspace:^` to `^<version>`). */
export function packAll(dir) {
  mkdirSync(dir, { recursive: true });
  pnpm(["-r", "--filter", "./packages/*", "--filter", "./apps/*", "pack", "--pack-destination", dir], root);
  return readdirSync(dir)
    .filter((file) => file.endsWith(".tgz"))
    .map((file) => join(dir, file));
}

/** `package/package.json` of a tarball, read with the standard library (ustar: 512-byte blocks). */
function manifestOf(tarball) {
  const tar = gunzipSync(readFileSync(tarball));
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = tar.toString("utf8", at, at + 100).replace(/\0.*$/s, "");
    if (!name) break;
    const size = Number.parseInt(
      tar
        .toString("utf8", at + 124, at + 136)
        .replace(/\0.*$/s, "")
        .trim(),
      8,
    );
    if (name === "package/package.json") return JSON.parse(tar.toString("utf8", at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tarball} has no package/package.json`);
}

/**
 * A registry on 127.0.0.1 that knows only the packed packages: a packument per name, and the
 * tarballs. Resolves with its URL and a function that closes it.
 */
export async function serveTarballs(tarballs) {
  const packages = new Map();
  for (const path of tarballs) {
    const manifest = manifestOf(path);
    const bytes = readFileSync(path);
    packages.set(manifest.name, { manifest, path, bytes });
  }
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "").slice(1).split("?")[0]);
    const file = /^-\/(.+\.tgz)$/.exec(name)?.[1];
    const tarball = file && [...packages.values()].find((p) => p.path.endsWith(`/${file}`));
    if (tarball) {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(tarball.bytes);
      return;
    }
    const found = packages.get(name);
    if (!found) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const { manifest, path, bytes } = found;
    const base = `http://127.0.0.1:${server.address().port}`;
    const file0 = path.slice(path.lastIndexOf("/") + 1);
    const packument = {
      name: manifest.name,
      "dist-tags": { latest: manifest.version },
      versions: {
        [manifest.version]: {
          ...manifest,
          _id: `${manifest.name}@${manifest.version}`,
          dist: {
            tarball: `${base}/-/${file0}`,
            shasum: createHash("sha1").update(bytes).digest("hex"),
            integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
          },
        },
      },
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument));
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((done) => server.close(done)),
  };
}

/** `npm install --global` of the app, its own packages from `registry`, the rest from npm's. */
export function npmInstall(registry, prefix, version) {
  const args = [
    "install",
    "--global",
    ...(prefix ? ["--prefix", prefix] : []),
    `--${scope}:registry=${registry}`,
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    `${app}@${version}`,
  ];
  return new Promise((done, fail) => {
    const child = spawn("npm", args, { stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", fail);
    child.once("exit", (code) =>
      code === 0 ? done() : fail(new Error(`npm ${args.join(" ")} exited ${code}`)),
    );
  });
}

async function cli(argv) {
  const value = (flag) => {
    const at = argv.indexOf(flag);
    return at === -1 ? undefined : resolve(argv[at + 1] ?? "");
  };
  const packOnly = value("--pack-only");
  if (packOnly) {
    for (const tarball of packAll(packOnly)) console.log(tarball);
    return;
  }
  const given = value("--tarballs");
  const tarballs = given
    ? readdirSync(given)
        .filter((f) => f.endsWith(".tgz"))
        .map((f) => join(given, f))
    : packAll(mkdtempSync(join(tmpdir(), "xiaozhi-connect-packs-")));
  const version = manifestOf(tarballs.find((t) => manifestOf(t).name === app)).version;
  const prefix = value("--prefix");
  const registry = await serveTarballs(tarballs);
  try {
    await npmInstall(registry.url, prefix, version);
  } finally {
    await registry.close();
  }
  const bin = prefix
    ? join(prefix, "bin")
    : join(execFileSync("npm", ["prefix", "--global"], { encoding: "utf8" }).trim(), "bin");
  console.log(`installed ${app}@${version}: ${join(bin, "xiaozhi-connect")}`);
  console.log(`try: xiaozhi-connect --help   (remove it with: ${uninstallHint(prefix)})`);
}

/**
 * The command that removes what `npmInstall` put into `prefix` (npm's own global prefix when
 * undefined): without the same `--prefix`, npm would look in its default global folder instead.
 */
export function uninstallHint(prefix) {
  return ["npm", "uninstall", "--global", ...(prefix ? ["--prefix", shellWord(prefix)] : []), app].join(" ");
}

/** `text` as one word of a POSIX shell: bare when it can be, else in single quotes. */
function shellWord(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli(process.argv.slice(2)).catch((error) => {
    console.error(`install-global: ${error.message}`);
    process.exit(1);
  });
}
