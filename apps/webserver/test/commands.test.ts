import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterEach, describe, expect, it } from "vitest";
import { stateDir } from "../src/state.js";
import { launchEnv, v8Flags } from "../src/v8-flags.js";
import { alive, childrenOf, demoTools, gone, main, spawnServer, waitForOutput } from "./run-server.js";

const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;
let cloud: SimulatedXiaozhiCloud | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await cloud?.stop();
  cloud = undefined;
});

/** A scratch home with its own state directory, as a fresh user account has. */
function home() {
  const dir = mkdtempSync(join(tmpdir(), "xz-cmd-"));
  const env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  // The state of the server of the config in that folder.
  const state = stateDir(env, join(dir, "xiaozhi.config.json"));
  return { dir, env, state };
}

/**
 * Runs one command to completion, as a user at a shell would. Asynchronously: the simulated cloud
 * lives in this process and must keep answering while the command runs.
 */
async function cli(args: string[], env: Record<string, string>, cwd: string) {
  const run = spawnServer(args, env, cwd);
  const timer = setTimeout(() => run.process.kill("SIGKILL"), 60_000);
  // `close`, not `exit`: by then every byte it printed has been read.
  const code = await new Promise<number | null>((resolve) => run.process.once("close", resolve));
  clearTimeout(timer);
  return { code, out: run.stdout(), err: run.stderr() };
}

describe("the xiaozhi-connect command", () => {
  it("checks a bad config file: exit 1 naming the field", async () => {
    const { dir, env } = home();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ mcpEndpoint: [], connection: { heartbeatTimeout: "soon" } }));
    const result = await cli(["config", "check", bad], env, dir);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/connection\.heartbeatTimeout: .*number/);
    const json = await cli(["config", "check", bad, "--json"], env, dir);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, path: bad });
    expect((await cli(["config", "check", join(dir, "missing.json")], env, dir)).code).toBe(1);

    // Valid, but with fields nothing reads: a misspelt one would otherwise go missing in silence.
    const typos = join(dir, "typos.json");
    writeFileSync(
      typos,
      JSON.stringify({
        $schema: "https://example.com/schema.json",
        mcpEndpoint: [],
        mcpServer: { calc: { command: "node" } },
        toolCallLog: { enabled: true },
        connection: { heartbeatIntervall: 1000, heartbeatTimeout: 5000 },
      }),
    );
    const checked = JSON.parse((await cli(["config", "check", typos, "--json"], env, dir)).out);
    expect(checked.ok).toBe(true);
    expect(checked.warnings).toEqual(
      expect.arrayContaining([
        "mcpServer is not a field xiaozhi-connect reads: it is ignored (did you mean mcpServers?)",
        "toolCallLog is xiaozhi-client's own setting (speech, models, its call log): it is not used here",
        "connection.heartbeatIntervall is not a field xiaozhi-connect reads: it is ignored (did you mean connection.heartbeatInterval?)",
      ]),
    );
    expect(JSON.stringify(checked.warnings)).not.toMatch(/\$schema|heartbeatTimeout /);
  }, 60_000);

  // This test and the next two start the command again and again, each start loading the whole app:
  // seconds apiece on a busy machine, so they get minutes, not the default 20 s.
  it("runs in the background: start -d, status --json, endpoint add, tool disable, logs, stop; nothing left behind", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const { dir, env, state } = home();
    writeFileSync(
      join(dir, "xiaozhi.config.json"),
      JSON.stringify({
        mcpEndpoint: [cloud.endpointUrl(token("a"))],
        mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
      }),
    );
    const debug = { ...env, XIAOZHI_LOG_LEVEL: "debug" };
    const started = await cli(
      ["start", "-d", "--port", "0", "--log-size", "1K", "--log-files", "2"],
      debug,
      dir,
    );
    // Whatever fails below, the background server and its services (its process group) go.
    const pidFile = join(state, "xiaozhi-connect.pid");
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0;
    cleanups.push(() => {
      if (pid && alive(pid)) process.kill(-pid, "SIGKILL");
    });
    expect(started.code, started.err).toBe(0);
    expect(started.out).toMatch(/ready: dashboard http:\/\/127\.0\.0\.1:\d+\/ · endpoints 1\/1 connected/);
    expect(alive(pid)).toBe(true);
    // It runs with the launcher's V8 flags (a small young generation: less memory per endpoint).
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toEqual(
      expect.arrayContaining([...v8Flags]),
    );
    // And with the environment `start -d` adds (glibc's allocator at a fixed mmap threshold).
    expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toEqual(
      expect.arrayContaining(Object.entries(launchEnv).map(([name, value]) => `${name}=${value}`)),
    );
    // Started from a command that already returned, it runs on its own.
    expect(await cli(["start", "-d", "--port", "0"], env, dir)).toMatchObject({ code: 1 });

    const status = await cli(["status", "--json"], env, dir);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.out);
    expect(parsed).toMatchObject({ running: true, pid, config: { path: join(dir, "xiaozhi.config.json") } });
    expect(parsed.endpoints).toHaveLength(1);
    expect(parsed.services).toEqual([expect.objectContaining({ name: "demo", state: "up" })]);

    const added = await cli(["endpoint", "add", cloud.endpointUrl(token("b"))], env, dir);
    expect(added.code, added.err).toBe(0);
    expect(added.out).toMatch(/added ep-[0-9a-f]{12} .*\(connected\)/);
    await cloud.waitForSession(token("b"));
    const disabled = await cli(["tool", "disable", "demo__clock"], env, dir);
    expect(disabled.code, disabled.err).toBe(0);
    // The agent lists only at connect: the change reaches what it holds.
    await cloud.untilTools(token("a"), (held) => held?.join() === "demo__calculator", 10_000);
    const saved = JSON.parse(readFileSync(join(dir, "xiaozhi.config.json"), "utf8"));
    expect(saved.mcpServerConfig).toEqual({ demo: { tools: { clock: { enable: false } } } });
    expect(saved.mcpEndpoint).toHaveLength(2);

    // Enough debug lines to pass the 1 KiB limit a few times: the log rotates and stays bounded.
    for (let i = 0; i < 3; i++) {
      await cli(["tool", "enable", "demo__clock"], env, dir);
      await cli(["tool", "disable", "demo__clock"], env, dir);
    }
    const logs = await cli(["logs", "-n", "20", "--json"], env, dir);
    expect(logs.code).toBe(0);
    const lines = logs.out.trim().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.length).toBeLessThanOrEqual(20);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    // Without --json, as people read them: time, level, message, fields; no raw pino JSON.
    const readable = await cli(["logs", "-n", "5"], env, dir);
    const shown = readable.out.trim().split("\n");
    expect(shown).toHaveLength(5);
    for (const line of shown)
      expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN|ERROR)\b.*: \S/);
    expect(readable.out).not.toMatch(/"level":/);
    const files = readdirSync(state).filter((f) => f.startsWith("xiaozhi-connect.log"));
    expect(files).toContain("xiaozhi-connect.log.1");
    expect(files.length).toBeLessThanOrEqual(3);
    expect(logs.out + status.out + added.out).not.toMatch(/tok-secret/);

    const children = childrenOf(pid);
    expect(children.length).toBeGreaterThanOrEqual(1);
    const stopped = await cli(["stop"], env, dir);
    expect(stopped).toMatchObject({ code: 0 });
    expect(stopped.out).toMatch(`stopped (pid ${pid}, config ${join(dir, "xiaozhi.config.json")})`);
    await gone([pid, ...children]);
    expect(existsSync(join(state, "xiaozhi-connect.pid"))).toBe(false);
    expect((await cli(["status"], env, dir)).code).toBe(1);
    expect((await cli(["stop"], env, dir)).out).toMatch(/not running/);
    // Some twenty commands, each a Node process: on a busy machine that takes a while.
  }, 120_000);

  it("restart brings the server back on the port and with the log it was started with", async () => {
    const { dir, env, state } = home();
    writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify({ mcpEndpoint: [] }));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const pidNow = () => Number(readFileSync(join(state, "xiaozhi-connect.pid"), "utf8"));
    cleanups.push(() => {
      const pid = existsSync(join(state, "xiaozhi-connect.pid")) ? pidNow() : 0;
      if (pid && alive(pid)) process.kill(-pid, "SIGKILL");
    });
    const started = await cli(
      ["start", "-d", "--port", String(port), "--log-size", "2M", "--log-files", "3", "--debug"],
      env,
      dir,
    );
    expect(started.code, started.err).toBe(0);
    const first = pidNow();
    const restarted = await cli(["restart"], env, dir);
    expect(restarted.code, restarted.err).toBe(0);
    expect(restarted.out).toContain(`http://127.0.0.1:${port}/`);
    expect(pidNow()).not.toBe(first);
    // Its log as it was started: the new process's own flags and environment say so.
    const argv = readFileSync(`/proc/${pidNow()}/cmdline`, "utf8").split("\0");
    expect(argv.slice(argv.indexOf("--log-size"), argv.indexOf("--log-size") + 4)).toEqual([
      "--log-size",
      "2M",
      "--log-files",
      "3",
    ]);
    expect(readFileSync(`/proc/${pidNow()}/environ`, "utf8").split("\0")).toContain(
      "XIAOZHI_LOG_LEVEL=debug",
    );
    // Told otherwise, it follows.
    expect((await cli(["restart", "--log-files", "4"], env, dir)).code).toBe(0);
    const again = readFileSync(`/proc/${pidNow()}/cmdline`, "utf8").split("\0");
    expect(again[again.indexOf("--log-files") + 1]).toBe("4");
    expect(again[again.indexOf("--log-size") + 1]).toBe("2M");
    expect((await cli(["stop"], env, dir)).code).toBe(0);
  }, 120_000);

  it("edits the config file when no server runs, and says where the config is and why", async () => {
    const { dir, env } = home();
    const init = await cli(["config", "init"], env, dir);
    expect(init.code).toBe(0);
    expect((await cli(["config", "init"], env, dir)).code).toBe(1);
    const path = await cli(["config", "path", "--json"], env, dir);
    expect(JSON.parse(path.out)).toMatchObject({
      path: join(dir, "xiaozhi.config.json"),
      source: "current directory",
    });
    const url = "wss://api.xiaozhi.me/mcp/?token=tok-secret-offline";
    expect((await cli(["endpoint", "add", url], env, dir)).code).toBe(0);
    expect((await cli(["endpoint", "add", url.replace("wss://", "WSS://")], env, dir)).code).toBe(1);
    const listed = await cli(["endpoint", "list", "--json"], env, dir);
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ state: "not running" })]);
    expect(listed.out).not.toContain("tok-secret");
    expect((await cli(["tool", "disable", "calc__add"], env, dir)).code).toBe(0);
    expect(JSON.parse((await cli(["tool", "list", "--json"], env, dir)).out)).toEqual([
      { name: "calc__add", service: "calc", enabled: false },
    ]);
    expect((await cli(["endpoint", "reconnect", "ep-000000000000"], env, dir)).code).toBe(1);
    expect((await cli(["endpoint", "remove", url], env, dir)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "xiaozhi.config.json"), "utf8")).mcpEndpoint).toEqual([
      expect.stringContaining("<"),
    ]);
  }, 120_000);

  it("answers --help on every command, --version, and usage errors with exit 2", async () => {
    const { dir, env } = home();
    for (const command of [
      [],
      ["start"],
      ["stop"],
      ["status"],
      ["logs"],
      ["endpoint", "add"],
      ["tool", "disable"],
      ["config", "init"],
    ]) {
      const help = await cli([...command, "--help"], env, dir);
      expect({ command, code: help.code }).toEqual({ command, code: 0 });
      expect(help.out).toMatch(/Usage: xiaozhi-connect/);
    }
    expect((await cli(["--version"], env, dir)).out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await cli(["--port", "http"], env, dir)).code).toBe(2);
    expect((await cli(["endpoint", "frobnicate"], env, dir)).code).toBe(2);
    expect((await cli(["status", "--bogus"], env, dir)).code).toBe(2);
    // A dozen commands, each a Node process: on a busy machine that takes a while.
  }, 120_000);

  it("shuts down and frees the port within 5 s when the wrapper that started it dies", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const { dir, env } = home();
    const config = join(dir, "xiaozhi.config.json");
    writeFileSync(config, JSON.stringify({ mcpEndpoint: [cloud.endpointUrl(token("w"))] }));
    // What npx or pnpm does: run the server as a child and, when killed, not pass the signal on.
    const wrapper = spawn(
      process.execPath,
      [
        "-e",
        `require("node:child_process").spawn(process.execPath, ${JSON.stringify([main, "--config", config, "--port", "0"])}, { stdio: "inherit" }); setInterval(() => {}, 1e9);`,
      ],
      { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    const server = { process: wrapper, stdout: () => out, stderr: () => "", exited: new Promise(() => {}) };
    let out = "";
    wrapper.stdout.on("data", (chunk) => {
      out += chunk;
    });
    cleanups.push(() => wrapper.kill("SIGKILL"));
    await waitForOutput(server as never, /ready: dashboard (\S+)/);
    const port = Number(/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]);
    const [child] = childrenOf(wrapper.pid as number);
    expect(child).toBeDefined();
    cleanups.push(() => child !== undefined && alive(child) && process.kill(child, "SIGKILL"));
    wrapper.kill("SIGTERM");
    const started = Date.now();
    await gone([child as number], 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve("still listening");
        });
        socket.once("error", reject);
      }),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
  }, 30_000);
});
