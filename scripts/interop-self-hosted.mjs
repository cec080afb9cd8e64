#!/usr/bin/env node
// Tries xiaozhi-connect against a real self-hosted Xiaozhi MCP endpoint server (the relay between tool
// providers and the xiaozhi-esp32-server "robot" side), with this script playing the robot as
// xiaozhi-esp32-server does: raw JSON-RPC frames, ids from 1, tools listed once per connection.
//
//   MCP_ENDPOINT_SERVER_DIR=/path/to/mcp-endpoint-server [PYTHON=python3] node scripts/interop-self-hosted.mjs
//
// The server's folder is copied to a scratch directory (it writes its config and logs beside itself) and
// run on 127.0.0.1 with a port and key of its own. Needs `pnpm build` first. What it shows:
//   1. a robot connected before a change keeps working after xiaozhi-connect republishes its tools
//      (the relay drops `tools/list_changed`: it has no robot to send a notification to);
//   2. a service added through the API reaches the robot: the next robot connection lists its tools.
// Exit code 0 when every check passed.
import { spawn, spawnSync } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = process.env.MCP_ENDPOINT_SERVER_DIR;
const python = process.env.PYTHON ?? "python3";
if (!source || !existsSync(join(source, "main.py"))) {
  console.error(
    "Set MCP_ENDPOINT_SERVER_DIR to a checkout of the self-hosted MCP endpoint server (main.py).",
  );
  process.exit(2);
}
const main = join(root, "apps/webserver/dist/main.js");
const demoTools = join(root, "apps/webserver/dist/demo-tools.js");
if (!existsSync(main)) {
  console.error("Build first: npx --yes pnpm@12.21.0 build");
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), "xz-interop-"));
const children = [];
const checks = [];
const check = (ok, what) => {
  checks.push({ ok, what });
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

try {
  // --- the self-hosted relay ---------------------------------------------------------------------
  const server = join(scratch, "server");
  cpSync(source, server, { recursive: true, filter: (path) => !path.includes(`${join(source, ".git")}`) });
  const port = await freePort();
  const key = randomBytes(16).toString("hex");
  mkdirSync(join(server, "data"), { recursive: true });
  writeFileSync(
    join(server, "data/.mcp-endpoint-server.cfg"),
    `[server]\nhost = 127.0.0.1\nport = ${port}\nkey = ${key}\ndebug = false\nlog_level = INFO\n\n` +
      "[websocket]\nmax_connections = 100\nping_interval = 30\nping_timeout = 10\nclose_timeout = 10\n\n" +
      "[security]\nallowed_origins = *\nenable_cors = true\n\n[logging]\nlog_file = logs/mcp_server.log\n",
  );
  const env = { ...process.env, PYTHONUNBUFFERED: "1", PYTHONPATH: cryptoShim(scratch) };
  const relay = spawn(python, ["main.py"], { cwd: server, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(relay);
  const relayLog = collect(relay);
  await waitFor(relayLog, /(Uvicorn running)/, 30_000, "the relay's listening line");
  // The server's tokens: `{"agentId": …}` under AES-256-ECB with its key, base64, as its console makes them.
  const cipher = createCipheriv("aes-256-ecb", Buffer.from(key), null);
  const sealed = Buffer.concat([cipher.update('{"agentId":"interop"}'), cipher.final()]).toString("base64");
  const token = encodeURIComponent(sealed);
  const toolUrl = `ws://127.0.0.1:${port}/mcp_endpoint/mcp/?token=${token}`;
  const robotUrl = `ws://127.0.0.1:${port}/mcp_endpoint/call/?token=${token}`;
  console.log(`relay up on 127.0.0.1:${port}`);

  // --- xiaozhi-connect -----------------------------------------------------------------------------
  const home = join(scratch, "home");
  mkdirSync(home, { recursive: true });
  const config = join(home, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: [{ url: toolUrl, name: "self-hosted" }],
      mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
    }),
  );
  const provider = spawn(process.execPath, [main, "start", "--config", config, "--port", "0"], {
    env: { ...process.env, HOME: home, XDG_STATE_HOME: join(home, "state"), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(provider);
  const providerLog = collect(provider);
  const base = await waitFor(providerLog, /ready: dashboard (http:\/\/\S+?)\/? /, 30_000, "the ready line");
  console.log(`xiaozhi-connect ready at ${base}`);

  // --- a robot connected before the change ---------------------------------------------------------
  const first = await robot(robotUrl);
  const before = await first.listTools();
  check(before.includes("demo__calculator"), `robot lists the demo tools at connect (${before.join(", ")})`);

  const added = await api(base, "POST", "/api/services", {
    name: "extra",
    config: { command: process.execPath, args: [demoTools] },
  });
  check(added.status === 201, `service added through the API (${added.status})`);
  const republished = await until(async () => {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const count = /xiaozhi_tools_republished_total\{[^}]*\} (\d+)/.exec(metrics)?.[1];
    const endpoint = (await api(base, "GET", "/api/endpoints")).body.endpoints[0];
    return Number(count ?? 0) >= 1 && endpoint?.state === "connected" && !endpoint.republishing;
  }, 20_000);
  check(republished, "xiaozhi-connect republished its tools (the relay has no way to pass list_changed on)");
  check(
    /没有特定目标/.test(relayLog.text),
    "the relay dropped tools/list_changed with 没有特定目标，无法转发消息, as expected",
  );
  const call = await first.call("demo__calculator", { a: 6, b: 7, op: "multiply" });
  check(
    /42/.test(JSON.stringify(call)),
    `the robot connected before the change still calls tools (${JSON.stringify(call)})`,
  );
  first.close();

  // --- the next robot connection (a new device session) ---------------------------------------------
  const second = await robot(robotUrl);
  const after = await second.listTools();
  check(after.includes("extra__calculator"), `the added service reaches the robot (${after.join(", ")})`);
  second.close();
} catch (error) {
  check(false, `interop run: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve())),
    ),
  );
  rmSync(scratch, { recursive: true, force: true });
}
const failed = checks.filter((c) => !c.ok).length;
console.log(failed === 0 ? "interop: every check passed" : `interop: ${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);

/** A robot as xiaozhi-esp32-server plays it: initialize (id 1), initialized, then requests by id. */
async function robot(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let nextId = 1;
  const waiting = new Map();
  socket.on("message", (data) => {
    const frame = JSON.parse(String(data));
    waiting.get(frame.id)?.(frame);
    waiting.delete(frame.id);
  });
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} within 15 s`)), 15_000);
      waiting.set(id, (frame) => {
        clearTimeout(timer);
        if (frame.error) reject(new Error(`${method}: ${JSON.stringify(frame.error)}`));
        else resolve(frame.result);
      });
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  await request("initialize", {
    protocolVersion: "2024-11-05",
    capabilities: { roots: { listChanged: false }, sampling: {} },
    clientInfo: { name: "xz-robot", version: "1.0.0" },
  });
  socket.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  return {
    listTools: async () => (await request("tools/list", {})).tools.map((t) => t.name).sort(),
    call: (name, args) => request("tools/call", { name, arguments: args }),
    close: () => socket.close(),
  };
}

async function api(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Keeps a child's output (both streams) as it arrives. */
function collect(child) {
  const log = { text: "", waiters: new Set() };
  const take = (chunk) => {
    log.text += chunk;
    for (const wake of log.waiters) wake();
  };
  child.stdout.setEncoding("utf8").on("data", take);
  child.stderr.setEncoding("utf8").on("data", take);
  child.once("exit", (code) => take(`\n[exited ${code}]\n`));
  return log;
}

function waitFor(log, pattern, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const wake = () => {
      const match = pattern.exec(log.text);
      if (!match) return;
      clearTimeout(timer);
      log.waiters.delete(wake);
      resolve(match[1]);
    };
    const timer = setTimeout(() => {
      log.waiters.delete(wake);
      reject(new Error(`no ${what} within ${timeoutMs} ms; output:\n${log.text.slice(-2000)}`));
    }, timeoutMs);
    log.waiters.add(wake);
    wake();
  });
}

/** Checks `predicate` every 200 ms until it holds or `timeoutMs` passes (at most timeoutMs / 200 times). */
async function until(predicate, timeoutMs) {
  for (let left = Math.ceil(timeoutMs / 200); left > 0; left--) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Debian packages pycryptodome as `Cryptodome`; the server imports `Crypto`. When only the former is
 * there, a one-line alias on PYTHONPATH lets the server start unchanged.
 */
function cryptoShim(dir) {
  const has = (module) => spawnSync(python, ["-c", `import ${module}`]).status === 0;
  const paths = [process.env.PYTHONPATH].filter(Boolean);
  if (!has("Crypto") && has("Cryptodome")) {
    const shim = join(dir, "shim");
    mkdirSync(join(shim, "Crypto"), { recursive: true });
    writeFileSync(
      join(shim, "Crypto/__init__.py"),
      "import sys, Cryptodome\nsys.modules[__name__] = Cryptodome\n",
    );
    paths.unshift(shim);
  }
  return paths.join(":");
}
