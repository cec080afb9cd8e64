import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stateDir } from "../src/state.js";
import { alive, runCli } from "./run-server.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A scratch home and a folder in it holding `xiaozhi.config.json`. */
function project(config: unknown) {
  const home = mkdtempSync(join(tmpdir(), "xz-migrant-"));
  const env = { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1" };
  const folder = join(home, "project");
  mkdirSync(folder);
  writeFileSync(join(folder, "xiaozhi.config.json"), JSON.stringify(config, null, 2));
  return { env, folder };
}

describe("xiaozhi-client's other commands", () => {
  it("answers those with no equivalent with what to do instead, exit 2, in English and Chinese", async () => {
    const { env, folder } = project({ mcpEndpoint: [], mcpServers: {} });
    const url = "wss://api.xiaozhi.me/mcp/?token=tok-secret-migrant";
    const answers: [string[], RegExp, RegExp][] = [
      [
        ["mcp", "call", "calc", "add", "--args", '{"a":1,"b":2}'],
        /no command that calls a tool: agents call calc__add, .*client add NAME.*xiaozhi-connect stdio/,
        /没有调用工具的命令：calc__add 由智能体调用.*client add 名称.*xiaozhi-connect stdio/,
      ],
      [["mcp", "call", "customMCP", "say_hi"], /agents call say_hi,/, /say_hi 由智能体调用/],
      [["mcp", "call"], /agents call the tools,/, /工具由智能体调用/],
      [
        ["start", "--stdio"],
        /no start --stdio: have the MCP client start xiaozhi-connect stdio \[--client NAME\]/,
        /没有 start --stdio：请让 MCP 客户端启动 xiaozhi-connect stdio \[--client 名称\]/,
      ],
      [["service", "start", "--stdio"], /no start --stdio/, /没有 start --stdio/],
      [
        ["config", "mcpEndpoint", url],
        /no config mcpEndpoint, .*xiaozhi-connect endpoint add URL.*edit mcpEndpoint in .*xiaozhi\.config\.json/,
        /没有 config mcpEndpoint.*xiaozhi-connect endpoint add 地址.*xiaozhi\.config\.json 中的 mcpEndpoint/,
      ],
      [["config", "mcpEndpoint"], /endpoints \(masked\): xiaozhi-connect endpoint list/, /endpoint list/],
      [
        ["info"],
        /no info command: xiaozhi-connect --version .*xiaozhi-connect status .*xiaozhi-connect config path/,
        /没有 info 命令：xiaozhi-connect --version 显示版本号/,
      ],
      [["--info"], /no info command/, /没有 info 命令/],
      [["--version-info"], /no info command/, /没有 info 命令/],
    ];
    // Side by side: each is a process of its own, and none changes anything.
    await Promise.all(
      answers.map(async ([args, english, chinese]) => {
        const en = await runCli(args, env, folder);
        expect({ args, code: en.code, err: en.err }).toEqual({
          args,
          code: 2,
          err: expect.stringMatching(english),
        });
        // A hint, never commander's refusal; and a typed endpoint's token is not printed back.
        expect(en.err).not.toMatch(/unknown (command|option)|tok-secret/);
        expect(en.out).toBe("");
        const zh = await runCli(args, { ...env, LANG: "zh_CN.UTF-8" }, folder);
        expect({ args, code: zh.code, err: zh.err }).toEqual({
          args,
          code: 2,
          err: expect.stringMatching(chinese),
        });
      }),
    );
    // None of them touched the config.
    expect(JSON.parse(readFileSync(join(folder, "xiaozhi.config.json"), "utf8"))).toEqual({
      mcpEndpoint: [],
      mcpServers: {},
    });
  }, 120_000);

  it("runs service start|status|restart|stop|attach as the commands they stand for", async () => {
    const { env, folder } = project({ mcpEndpoint: [] });
    const pidFile = join(stateDir(env, join(folder, "xiaozhi.config.json")), "xiaozhi-connect.pid");
    cleanups.push(() => {
      try {
        const pid = Number(readFileSync(pidFile, "utf8"));
        if (pid && alive(pid)) process.kill(-pid, "SIGKILL");
      } catch {
        // Never started, or stopped as it should.
      }
    });
    const stopped = await runCli(["service", "status"], env, folder);
    expect(stopped).toMatchObject({ code: 1, out: expect.stringMatching(/xiaozhi-connect is stopped/) });
    expect(stopped.err).toMatch(/here it is: xiaozhi-connect status/);

    const started = await runCli(["service", "start", "-d", "--port", "0"], env, folder);
    expect(started.code, started.err).toBe(0);
    expect(started.out).toMatch(/running in the background \(pid \d+\)/);
    expect(started.err).toMatch(/here it is: xiaozhi-connect start/);
    const running = await runCli(["service", "status", "--json"], env, folder);
    expect(running.code).toBe(0);
    const first = JSON.parse(running.out) as { running: boolean; pid: number };
    expect(first.running).toBe(true);

    const restarted = await runCli(["service", "restart", "-d"], env, folder);
    expect(restarted.code, restarted.err).toBe(0);
    expect(restarted.err).toMatch(/here it is: xiaozhi-connect restart/);
    const second = JSON.parse((await runCli(["service", "status", "--json"], env, folder)).out);
    expect(second).toMatchObject({ running: true });
    expect(second.pid).not.toBe(first.pid);

    const stop = await runCli(["service", "stop"], env, folder);
    expect(stop.code).toBe(0);
    expect(stop.out).toMatch(`stopped (pid ${second.pid}`);
    expect(stop.err).toMatch(/here it is: xiaozhi-connect stop/);
    expect((await runCli(["status"], env, folder)).code).toBe(1);

    // `service attach` is `logs -f`: with no background log yet, it says so.
    const fresh = project({ mcpEndpoint: [] });
    const attach = await runCli(["service", "attach"], fresh.env, fresh.folder);
    expect(attach.err).toMatch(/here it is: xiaozhi-connect logs -f/);
    expect(attach.err).toMatch(/no log file at/);
  }, 120_000);
});
