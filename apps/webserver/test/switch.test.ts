import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import stringWidth from "string-width";
import { afterEach, describe, expect, it } from "vitest";
import { stateDir } from "../src/state.js";
import { alive, gone, main, runCli, spawnServer, waitForOutput } from "./run-server.js";

const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;
let cloud: SimulatedXiaozhiCloud | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await cloud?.stop();
  cloud = undefined;
});

/** A scratch home without XDG_STATE_HOME: state goes where a user's goes, under this home. */
function home() {
  const dir = mkdtempSync(join(tmpdir(), "xz-switch-"));
  const env = { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1" };
  return { dir, env };
}

/** A folder holding `xiaozhi.config.json` with `config`; returns the folder. */
function project(root: string, name: string, config: unknown): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  // Kept to its owner, as a file of tokens should be (else `config check` says so).
  writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify(config, null, 2), { mode: 0o600 });
  return dir;
}

/** Kills a background server (and its process group) if a test left it running. */
function reap(pidFile: string): void {
  try {
    const pid = Number(readFileSync(pidFile, "utf8"));
    if (pid && alive(pid)) process.kill(-pid, "SIGKILL");
  } catch {
    // Never started, or stopped as it should.
  }
}

describe("switching from xiaozhi-client", () => {
  it("runs two servers of different configs side by side; refuses a second of the same config", async () => {
    const { dir, env } = home();
    const a = project(dir, "a", { mcpEndpoint: [] });
    const b = project(dir, "b", { mcpEndpoint: [] });
    for (const folder of [a, b]) {
      cleanups.push(() =>
        reap(join(stateDir(env, join(folder, "xiaozhi.config.json")), "xiaozhi-connect.pid")),
      );
    }
    for (const folder of [a, b]) {
      const started = await runCli(["start", "-d", "--port", "0"], env, folder);
      expect(started.code, started.err).toBe(0);
    }
    const refused = await runCli(["start", "--port", "0"], env, a);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/already running for this config \(pid \d+/);
    const statusA = JSON.parse((await runCli(["status", "--json"], env, a)).out);
    const statusB = JSON.parse((await runCli(["status", "--json"], env, dir)).out.trim() || "{}");
    expect(statusA).toMatchObject({ running: true, config: { path: join(a, "xiaozhi.config.json") } });
    // From elsewhere, the lookup finds no config: that is the demo's server, not running.
    expect(statusB).toEqual({ running: false, config: null });
    const byFlag = await runCli(["status", "--config", join(b, "xiaozhi.config.json")], env, dir);
    expect(byFlag.out).toMatch(
      new RegExp(`running · pid \\d+ .*\\nconfig ${join(b, "xiaozhi.config.json")}`),
    );

    const stopped = await runCli(["stop"], env, b);
    expect(stopped.out).toMatch(`config ${join(b, "xiaozhi.config.json")})`);
    const afterB = await runCli(["status"], env, b);
    expect(afterB.code).toBe(1);
    expect(afterB.out).toMatch(`stopped · config ${join(b, "xiaozhi.config.json")}`);
    // It points at the server that does run, and at how to reach it.
    expect(afterB.out).toMatch(`running for another config: pid ${statusA.pid}`);
    expect(afterB.out).toMatch(`--config ${join(a, "xiaozhi.config.json")}`);
    expect((await runCli(["status"], env, a)).code).toBe(0);
    expect((await runCli(["stop"], env, a)).out).toMatch(`stopped (pid ${statusA.pid}`);
  }, 120_000);

  it("notices within a second that the wrapper it was started through died, a shell between them", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const { dir, env } = home();
    const folder = project(dir, "w", { mcpEndpoint: [cloud.endpointUrl(token("w"))] });
    // npx or pnpm: a node process that runs a shell that runs the server, and that does not pass
    // a SIGTERM on. `; echo` keeps the shell from replacing itself with the server.
    const command = `"${process.execPath}" "${main}" start --port 0; echo shell-done`;
    const wrapper = spawn(
      process.execPath,
      [
        "-e",
        `require("node:child_process").spawn("sh", ["-c", ${JSON.stringify(command)}], { stdio: "inherit" }); setInterval(() => {}, 1e9);`,
      ],
      { env, cwd: folder, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    wrapper.stdout.on("data", (chunk) => {
      out += chunk;
    });
    wrapper.stderr.on("data", (chunk) => {
      err += chunk;
    });
    cleanups.push(() => wrapper.kill("SIGKILL"));
    const view = { process: wrapper, stdout: () => out, stderr: () => err, exited: new Promise(() => {}) };
    await waitForOutput(view as never, /ready: dashboard/);
    const record = JSON.parse(
      readFileSync(join(stateDir(env, join(folder, "xiaozhi.config.json")), "server.json"), "utf8"),
    ) as { pid: number };
    cleanups.push(() => alive(record.pid) && process.kill(record.pid, "SIGKILL"));
    const wrapperGone = new Promise<number>((resolve) => wrapper.once("exit", () => resolve(Date.now())));
    wrapper.kill("SIGTERM");
    const diedAt = await wrapperGone;
    await waitForOutput(view as never, /"msg":"stopped"/);
    await gone([record.pid]);
    const noticed = err
      .split("\n")
      .filter((line) => line.includes('"msg":"shutting down"'))
      .map((line) => JSON.parse(line) as { time: number; why: string });
    expect(noticed).toHaveLength(1);
    expect(noticed[0]?.why).toMatch(/a process it was started through \(pid \d+\) exited/);
    // The server's clock and this one are the machine's: the notice came within the second the
    // README promises (checks every 200 ms), with a second more for a busy machine's late timers.
    expect((noticed[0]?.time ?? Number.POSITIVE_INFINITY) - diedAt).toBeLessThan(2000);
  }, 120_000);

  it("speaks Chinese when the locale is Chinese, English otherwise, and lines tables up by display width", async () => {
    const { dir, env } = home();
    const folder = project(dir, "zh", {
      mcpEndpoint: [
        { url: "wss://api.xiaozhi.me/mcp/?token=tok-secret-1", name: "厨房" },
        { url: "wss://api.xiaozhi.me/mcp/?token=tok-secret-2", name: "kitchen" },
        { url: "wss://api.xiaozhi.me/mcp/?token=tok-secret-3", name: "客厅的小智音箱" },
      ],
    });
    const zh = { ...env, LANG: "zh_CN.UTF-8" };
    const help = await runCli(["--help"], zh, folder);
    expect(help.out).toMatch(/^用法：xiaozhi-connect \[选项\] \[命令\]/);
    expect(help.out).toMatch(/命令：\n {2}start \[选项\] +启动 WebServer/);
    expect((await runCli(["--help"], { ...env, LANG: "en_US.UTF-8" }, folder)).out).toMatch(
      /^Usage: xiaozhi-connect \[options\] \[command\]\n\nConnects your MCP tools/,
    );
    expect((await runCli(["--help"], { ...env, LC_ALL: "zh_CN.UTF-8", LANG: "en_US" }, folder)).out).toMatch(
      /^用法：/,
    );
    expect((await runCli(["--help", "--lang", "en"], zh, folder)).out).toMatch(/^Usage:/);
    const error = await runCli(["endpoint", "remove", "ep-000000000000"], zh, folder);
    expect(error).toMatchObject({ code: 1, err: "xiaozhi-connect: 没有接入点 ep-000000000000\n" });
    const usage = await runCli(["status", "--bogus"], zh, folder);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^错误：未知选项 '--bogus'\n（加 --help 查看用法）/);

    const listed = await runCli(["endpoint", "list"], zh, folder);
    const lines = listed.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +智能体 +地址 +状态/);
    // Every row's URL starts in the column where the header's 地址 does.
    const column = (line: string, marker: string) => stringWidth(line.slice(0, line.indexOf(marker)));
    const at = column(lines[0] as string, "地址");
    expect(lines.slice(1)).toHaveLength(3);
    for (const line of lines.slice(1)) {
      expect(column(line, "wss://")).toBe(at);
      expect(line).toMatch(/未运行$/);
    }
    expect(listed.out).not.toContain("tok-secret");
  }, 120_000);

  it("prints help for a bare command on a terminal, and starts the server without one", async () => {
    const script = "/usr/bin/script";
    const { dir, env } = home();
    const scriptThere = spawnSync("sh", ["-c", `command -v ${script}`]).status === 0;
    expect(scriptThere, "util-linux's script is needed: apt-get install -y bsdutils").toBe(true);
    const terminal = spawnSync(script, ["-qec", `"${process.execPath}" "${main}"`, "/dev/null"], {
      cwd: dir,
      env,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(terminal.status).toBe(0);
    expect(terminal.stdout).toMatch(/Usage: xiaozhi-connect \[options\] \[command\]/);
    expect(terminal.stdout).not.toMatch(/ready: dashboard/);

    const supervised = spawnServer([], { ...env, XIAOZHI_PORT: "0" }, dir);
    cleanups.push(() => supervised.process.kill("SIGKILL"));
    await waitForOutput(supervised, /ready: dashboard http:\/\/127\.0\.0\.1:\d+\/ .*config demo mode/);
    supervised.process.kill("SIGTERM");
    expect((await supervised.exited).code).toBe(0);
  }, 120_000);

  it("answers xiaozhi-client's commands: aliases where they mean the same, the equivalent and exit 2 where not", async () => {
    const { dir, env } = home();
    const folder = project(dir, "habits", {
      mcpEndpoint: [],
      mcpServers: { calc: { command: "node", args: ["calc.js"] } },
      mcpServerConfig: { calc: { tools: { add: { enable: true } } } },
    });
    const list = await runCli(["mcp", "list"], env, folder);
    expect(list).toMatchObject({ code: 0 });
    expect(list.out).toMatch(/calc +not running/);
    expect(list.err).toMatch(/here it is: xiaozhi-connect service list/);
    expect((await runCli(["mcp", "list", "--tools"], env, folder)).out).toMatch(/calc__add +calc +yes/);
    expect((await runCli(["mcp", "tool", "calc", "add", "disable"], env, folder)).code).toBe(0);
    expect((await runCli(["mcp", "server", "calc"], env, folder)).out).toMatch(/calc__add +calc +no/);
    expect((await runCli(["mcp", "tool", "calc", "add", "toggle"], env, folder)).code).toBe(2);

    const answers: [string[], RegExp][] = [
      [["config", "set", "mcpEndpoint", "wss://x"], /xiaozhi-connect endpoint add URL/],
      [
        ["config", "set", "heartbeatInterval", "5000"],
        /edit connection\.heartbeatInterval in .*xiaozhi\.config\.json/,
      ],
      [["config", "get", "mcpEndpoint"], /xiaozhi-connect endpoint list/],
      [["config", "get", "webUI"], /read webUI in .*xiaozhi\.config\.json/],
      [["config", "get"], /config get: read \S*xiaozhi\.config\.json, or check/],
      [
        ["endpoint", "set", "wss://a.example/mcp/?token=x"],
        /no endpoint set.*edit mcpEndpoint in .*xiaozhi\.config\.json/,
      ],
      [["ui"], /the dashboard is always on while the server runs/],
      [["create", "my-app", "--template", "x"], /xiaozhi-connect config init writes a starter/],
    ];
    for (const [args, answer] of answers) {
      const result = await runCli(args, env, folder);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.err).toMatch(answer);
    }
    const attach = await runCli(["attach"], env, folder);
    expect(attach.err).toMatch(/here it is: xiaozhi-connect logs -f/);
    expect(attach.err).toMatch(/no log file at/);
    expect(JSON.parse(readFileSync(join(folder, "xiaozhi.config.json"), "utf8")).mcpServerConfig).toEqual({
      calc: { tools: { add: { enable: false } } },
    });
  }, 120_000);

  it("exits 1 when the agent refuses an added endpoint, and says why nothing connects", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    cloud.configure(token("bad"), { rejectStatus: 401 });
    const { dir, env } = home();
    const folder = project(dir, "refused", { mcpEndpoint: ["<请填写你的接入点地址>"] });
    const pidFile = join(stateDir(env, join(folder, "xiaozhi.config.json")), "xiaozhi-connect.pid");
    cleanups.push(() => reap(pidFile));
    const started = await runCli(["start", "-d", "--port", "0"], env, folder);
    expect(started.out).toMatch(
      /endpoints 0\/0 connected \(mcpEndpoint has no usable URL: 1 placeholder or invalid entry skipped\)/,
    );
    const refused = await runCli(["endpoint", "add", cloud.endpointUrl(token("bad"))], env, folder);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/\(failed\)/);
    expect(refused.err).toMatch(/the agent refused this endpoint: .*401/);
    const good = await runCli(["endpoint", "add", cloud.endpointUrl(token("good"))], env, folder);
    expect(good.code, good.err).toBe(0);
    expect((await runCli(["stop"], env, folder)).code).toBe(0);
  }, 120_000);

  it("hints at --port when the port is taken, and warns in config check when nothing would work", async () => {
    const { dir, env } = home();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const folder = project(dir, "busy", { mcpEndpoint: [] });
    const taken = await runCli(["start", "--port", String(port)], env, folder);
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(`port ${port} on 127.0.0.1 is in use`);
    expect(taken.err).toMatch(/pick another with --port, or 0 for any free one/);

    const init = await runCli(["config", "init"], env, join(dir, "busy"));
    expect(init.code).toBe(1);
    const starter = mkdtempSync(join(dir, "starter-"));
    expect((await runCli(["config", "init"], env, starter)).code).toBe(0);
    const checked = await runCli(["config", "check"], env, starter);
    expect(checked.code).toBe(0);
    expect(checked.out).toMatch(/ok \(0 endpoint\(s\), 0 service\(s\).*\), with 1 warning\n/);
    expect(checked.out).toMatch(/warning: no usable endpoint in mcpEndpoint: nothing would connect/);
    // xiaozhi-client's own template, with a custom tool this provider cannot run.
    const template = project(dir, "template", {
      mcpEndpoint: "<请填写你的接入点地址>",
      mcpServers: {},
      customMCP: { tools: [{ name: "flow", handler: { type: "function", module: "./x.js" } }] },
    });
    const json = JSON.parse((await runCli(["config", "check", "--json"], env, template)).out);
    expect(json).toMatchObject({ ok: true });
    expect(json.warnings).toEqual([
      expect.stringMatching(/no usable endpoint/),
      expect.stringMatching(/custom tool flow is unavailable: handler type "function" is not supported/),
    ]);
  }, 120_000);
});
