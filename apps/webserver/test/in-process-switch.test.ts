import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ancestors, watchAncestors } from "../src/ancestors.js";
import { main } from "../src/cli.js";
import { readableLog } from "../src/logs.js";
import { stateDir, writeRecord } from "../src/state.js";
import { capture } from "./capture.js";

// The switch's commands run in this process, so what they cover counts; the subprocess tests in
// switch.test.ts show the same as users see it.
afterEach(() => {
  vi.restoreAllMocks();
});

function scratch(config?: unknown) {
  const dir = mkdtempSync(join(tmpdir(), "xz-inproc-switch-"));
  const env = { HOME: dir, XIAOZHI_LOG_LEVEL: "silent", NO_COLOR: "1" };
  // Kept to its owner, as a file of tokens should be (else `config check` says so).
  if (config !== undefined)
    writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify(config), { mode: 0o600 });
  return { dir, env, config: join(dir, "xiaozhi.config.json") };
}

describe("the switch, in process", () => {
  it("prints help for a bare command on a terminal, in the locale's language", async () => {
    const { dir, env } = scratch();
    const zh = await capture([], { ...env, LANG: "zh_CN.UTF-8" }, dir, { terminal: true });
    expect(zh.code).toBe(0);
    expect(zh.out).toMatch(/^用法：xiaozhi-connect \[选项\] \[命令\]\n/);
    expect(zh.out).toMatch(/全局选项|选项：/);
    const en = await capture(["--config", "x.json"], env, dir, { terminal: true });
    expect(en.out).toMatch(/^Usage: xiaozhi-connect \[options\] \[command\]/);
    const sub = await capture(["stop", "--help", "--lang", "zh-CN"], env, dir);
    expect(sub.out).toMatch(/强制结束前等待的秒数（默认：10）/);
    expect(sub.out).toMatch(/全局选项：/);
    const unknown = await capture(["frobnicate"], { ...env, LANG: "zh_CN.UTF-8" }, dir);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.err).toMatch(/^错误：未知命令 'frobnicate'/);
    const lang = await capture(["status", "--lang", "klingon"], env, dir);
    expect(lang.code).toBe(2);
    expect(lang.err).toMatch(/the command line speaks en and zh-CN, got "klingon"/);
    const port = await capture(["start", "--port", "http", "--lang", "zh-CN"], env, dir);
    expect(port.code).toBe(2);
    expect(port.err).toMatch(
      /错误：选项 '-p, --port <port>' 的参数 'http' 无效。端口必须是 0 到 65535 之间的整数/,
    );
    const missing = await capture(
      ["status", "--config", join(dir, "none.json"), "--lang", "zh-CN"],
      env,
      dir,
    );
    expect(missing).toMatchObject({
      code: 1,
      err: `xiaozhi-connect: 找不到配置文件：${join(dir, "none.json")}\n`,
    });
  });

  it("runs `help`, and what `pnpm start` runs is `start`, on a terminal too", async () => {
    const { dir, env } = scratch();
    const help = await capture(["help"], env, dir, { terminal: true });
    expect(help).toMatchObject({ code: 0 });
    expect(help.out).toMatch(/^Usage: xiaozhi-connect \[options\] \[command\]/);
    const group = await capture(["help", "endpoint"], env, dir);
    expect(group).toMatchObject({ code: 0 });
    expect(group.out).toMatch(/^Usage: xiaozhi-connect endpoint /);
    // The README's first command: a bare command on a terminal prints help, so the scripts say `start`.
    const root = join(import.meta.dirname, "../../..");
    for (const [file, script] of [
      ["package.json", /apps\/webserver\/dist\/main\.js(.*)$/],
      ["apps/webserver/package.json", /dist\/main\.js(.*)$/],
    ] as const) {
      const start = JSON.parse(readFileSync(join(root, file), "utf8")).scripts.start as string;
      const words = (script.exec(start)?.[1] ?? "").split(" ").filter(Boolean);
      const run = await capture([...words, "--help"], env, dir, { terminal: true });
      expect(run.out, file).toMatch(/^Usage: xiaozhi-connect start /);
    }
  });

  it("points `ui` and a new client at the dashboard where the config puts it", async () => {
    const { dir, env } = scratch({ mcpEndpoint: [], webUI: { port: 39931 } });
    const ui = await capture(["ui"], env, dir);
    expect(ui.code).toBe(2);
    expect(ui.err).toContain("then http://127.0.0.1:39931/)");
    const added = await capture(["client", "add", "editor"], env, dir);
    expect(added.code).toBe(0);
    expect(added.out).toContain("http://127.0.0.1:39931/");
    const elsewhere = await capture(["ui"], { ...env, XIAOZHI_PORT: "4000" }, dir);
    expect(elsewhere.err).toContain("http://127.0.0.1:4000/");
  });

  it("answers xiaozhi-client's commands, aliases working, in either language", async () => {
    const { dir, env } = scratch({
      mcpEndpoint: [],
      mcpServers: { calc: { command: "node" } },
      mcpServerConfig: { calc: { tools: { add: { enable: false } } } },
    });
    const zh = { ...env, LANG: "zh_CN.UTF-8" };
    expect((await capture(["mcp", "list"], zh, dir)).out).toMatch(/服务 +状态[\s\S]*calc +未运行/);
    expect((await capture(["mcp", "list", "--tools"], zh, dir)).out).toMatch(/calc__add +calc +否/);
    const server = await capture(["mcp", "server", "calc", "--json"], env, dir);
    expect(JSON.parse(server.out)).toEqual([{ name: "calc__add", service: "calc", enabled: false }]);
    expect(server.err).toMatch(/here it is: xiaozhi-connect tool list --service calc/);
    expect((await capture(["mcp", "server", "other"], env, dir)).out).toBe("no tools\n");
    const enabled = await capture(["mcp", "tool", "calc", "add", "enable"], zh, dir);
    expect(enabled.out).toBe("已启用 calc__add\n");
    expect((await capture(["mcp", "tool", "calc", "add", "flip"], zh, dir)).err).toMatch(
      /操作必须是 enable 或 disable/,
    );
    for (const [args, answer] of [
      [["config", "set", "mcpEndpoint", "x"], /endpoint add 地址/],
      [["config", "set", "webUI.port", "1"], /编辑 .*xiaozhi\.config\.json 中的 webUI\.port/],
      [["config", "get", "mcpServers"], /xiaozhi-connect service list/],
      [["config", "get", "reconnectInterval"], /connection\.reconnectInterval/],
      [["config", "get"], /查看 \S*xiaozhi\.config\.json，或用/],
      [
        ["endpoint", "set", "wss://a.example/mcp/?token=x"],
        /没有 endpoint set.*编辑 .*xiaozhi\.config\.json 中的 mcpEndpoint/,
      ],
      [["ui"], /控制台始终开启/],
      [["create", "app"], /没有项目模板/],
    ] as const) {
      const result = await capture([...args], zh, dir);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.err).toMatch(answer);
    }
    const elsewhere = mkdtempSync(join(tmpdir(), "xz-nowhere-"));
    expect((await capture(["config", "set", "heartbeatTimeout", "1"], env, elsewhere)).err).toMatch(
      /edit connection\.heartbeatTimeout in the config \(xiaozhi-connect config path\)/,
    );
    expect((await capture(["attach"], zh, dir)).err).toMatch(/没有日志文件/);
  });

  it("says which server runs for which config, and points at the others", async () => {
    const { dir, env, config } = scratch({ mcpEndpoint: [] });
    const other = join(dir, "other");
    mkdirSync(other);
    const otherConfig = join(other, "xiaozhi.config.json");
    writeFileSync(otherConfig, "{}");
    // A server of the other config: this process stands in for it.
    writeRecord(stateDir(env, otherConfig), {
      pid: process.pid,
      url: "http://127.0.0.1:1/",
      config: otherConfig,
      startedAt: 0,
    });
    const status = await capture(["status"], { ...env, LANG: "zh_CN.UTF-8" }, dir);
    expect(status.code).toBe(1);
    expect(status.out).toMatch(`已停止 · 配置 ${config}`);
    expect(status.out).toMatch(
      `另一个配置的服务器正在运行：pid ${process.pid}，http://127.0.0.1:1/，配置 ${otherConfig}（加上 --config ${otherConfig}）`,
    );
    const stop = await capture(["stop"], env, dir);
    expect(stop.out).toMatch(
      `xiaozhi-connect is not running for config ${config}\n  running for another config: pid ${process.pid}`,
    );
    const demo = await capture(["status", "--json"], env, mkdtempSync(join(tmpdir(), "xz-demo-")));
    expect(JSON.parse(demo.out)).toEqual({ running: false, config: null });
    const refused = await capture(["start", "--port", "0"], env, other);
    expect(refused).toMatchObject({ code: 1 });
    expect(refused.err).toMatch(/already running for this config/);
  });

  it("warns in config check, says why nothing connects, and hints at --port", async () => {
    const { dir, env, config } = scratch({
      mcpEndpoint: ["<请填写你的接入点地址>"],
      customMCP: {
        tools: [
          { name: "flow", handler: { type: "proxy", platform: "coze", config: { workflow_id: "1" } } },
          { name: "ok", handler: { type: "http", url: "http://127.0.0.1:1/" } },
        ],
      },
    });
    const checked = await capture(["config", "check", "--lang", "zh-CN"], env, dir);
    expect(checked.code).toBe(0);
    expect(checked.out).toMatch(/有效（0 个接入点、0 个服务；已跳过 .*），有 2 条警告\n/);
    expect(checked.out).toMatch(/ {2}警告：mcpEndpoint 中没有可用的接入点/);
    expect(checked.out).toMatch(/ {2}警告：自定义工具 flow 不可用：platforms\.coze\.token is not set/);
    const clustered = scratch({ mcpEndpoint: [], cluster: { redis: "redis://127.0.0.1:1" } });
    const quiet = JSON.parse(
      (await capture(["config", "check", "--json"], clustered.env, clustered.dir)).out,
    );
    expect(quiet.warnings).toEqual([]);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const taken = await capture(["start", "--port", String(port), "--lang", "zh-CN"], env, dir);
      expect(taken.code).toBe(1);
      expect(taken.err).toMatch(`127.0.0.1 的端口 ${port} 已被占用`);
    } finally {
      blocker.close();
    }

    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const serving = main(["--config", config, "--port", "0", "--lang", "zh-CN"], env);
    const deadline = Date.now() + 20_000;
    while (!out.join("").includes("已就绪") && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    vi.restoreAllMocks();
    process.emit("SIGTERM");
    expect(await serving).toBe(0);
    expect(out.join("")).toMatch(
      /接入点 0\/0 已连接（mcpEndpoint 中没有可用的地址：跳过了 1 个占位符或无效条目）/,
    );
  }, 60_000);

  it("prints log lines as people read them, and passes other lines on", () => {
    const readable = readableLog(false);
    const line = readable(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
        pid: 1,
        hostname: "h",
        name: "厨房",
        msg: "endpoint dropped",
        reason: "1006",
      }),
    );
    expect(line).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.006\] WARN \(厨房\): endpoint dropped \{"reason":"1006"\}$/,
    );
    expect(readable("not json")).toBe("not json");
    expect(readable("{broken")).toBe("{broken");
  });

  it("watches every process it was started through, and stops watching on request", async () => {
    expect(ancestors()[0]).toBe(process.ppid);
    expect(ancestors(process.pid, 1)).toEqual([]);
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
    const pid = child.pid as number;
    const gone = new Promise<number>((resolve) => {
      const stop = watchAncestors(resolve, 20, [process.ppid, pid]);
      child.once("exit", () => setTimeout(stop, 1000).unref());
    });
    child.kill("SIGKILL");
    expect(await gone).toBe(pid);
    const never = vi.fn();
    const stop = watchAncestors(never, 20, [process.pid]);
    stop();
    expect(never).not.toHaveBeenCalled();
    expect(watchAncestors(never, 20, [])()).toBeUndefined();
  });
});
