import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { silentLogger, type ToolSource } from "@xiaozhi-connect/core";
import { until } from "@xiaozhi-connect/core/testing";
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli.js";
import { startDemo } from "../src/demo.js";
import { createDemoTools } from "../src/demo-tool-server.js";
import { follow, lastLines } from "../src/logs.js";
import { en } from "../src/messages.js";
import { findConfig, isLoopback, lookupCandidates } from "../src/options.js";
import { stateDir } from "../src/state.js";
import { capture } from "./capture.js";
import { demoTools } from "./run-server.js";

// The same commands as the subprocess tests, run in this process: what they cover counts here.
let cloud: SimulatedXiaozhiCloud | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await cloud?.stop();
  cloud = undefined;
});

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "xz-inproc-"));
  const env = { HOME: dir, XDG_STATE_HOME: join(dir, "state"), XIAOZHI_LOG_LEVEL: "silent", NO_COLOR: "1" };
  return { dir, env };
}

describe("the command, in process", () => {
  it("serves a config until SIGTERM and answers status, endpoint, service and tool commands meanwhile", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const { dir, env } = scratch();
    const config = join(dir, "xiaozhi.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        mcpEndpoint: [cloud.endpointUrl("tok-inproc-a")],
        mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
        // Misspelt, so ignored: status says so.
        mcpServerConfg: {},
      }),
    );
    const serving = main(["--config", config, "--port", "0"], env);
    const record = join(stateDir(env, config), "server.json");
    await until(() => existsSync(record), 20_000, "the server's record");
    // The commands find the server through the config they resolve, here from its folder.
    const run = (args: string[]) => capture(args, env, dir);
    const status = await run(["status", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ running: true, pid: process.pid });
    expect((await run(["status"])).out).toMatch(
      /running · pid.*\n.*\n {2}mcpServerConfg is not a field xiaozhi-connect reads: it is ignored \(did you mean mcpServerConfig\?\)\n/,
    );
    expect((await run(["endpoint", "list"])).out).toMatch(/ep-[0-9a-f]{12} .*connected/);
    expect((await run(["service", "list"])).out).toMatch(/demo +up/);
    expect((await run(["tool", "disable", "demo__clock"])).code).toBe(0);
    expect((await run(["tool", "list", "--json"])).out).toMatch(/"enabled": false/);
    expect((await run(["mcp", "list", "--tools", "--json"])).out).toMatch(/"enabled": false/);
    expect((await run(["mcp", "server", "demo"])).out).toMatch(/demo__clock +demo +no/);
    expect((await run(["mcp", "tool", "demo", "clock", "enable"])).code).toBe(0);
    expect((await run(["ui"])).err).toMatch(/dashboard is always on, at http:\/\/127\.0\.0\.1:\d+\//);
    const added = await run(["endpoint", "add", cloud.endpointUrl("tok-inproc-b"), "--json"]);
    const id = JSON.parse(added.out).id as string;
    // One page at a time, under the counts of all.
    const first = (await run(["status", "--per-page", "1"])).out;
    expect(first).toMatch(/endpoints 2\/2 connected/);
    expect(first).toMatch(/showing 1–1 of 2; more: --page 2/);
    expect(first.match(/ep-[0-9a-f]{12}/g)).toHaveLength(1);
    const second = (await run(["status", "--per-page", "1", "--page", "2"])).out;
    expect(second).toContain(id);
    expect(second).toMatch(/showing 2–2 of 2$/m);
    expect((await run(["status", "--state", "failed"])).out).toMatch(
      /endpoints 2\/2 connected\n.*no endpoint matches/,
    );
    expect((await run(["status", "--page", "0"])).code).toBe(2);
    expect((await run(["endpoint", "reconnect", id])).code).toBe(0);
    // By the name the tables show: one that two endpoints share is refused with their ids.
    const shared = await run(["endpoint", "reconnect", "127.0.0.1"]);
    expect(shared.code).toBe(1);
    expect(shared.err).toMatch(new RegExp(`2 endpoints are named "127\\.0\\.0\\.1".*${id}`));
    expect((await run(["endpoint", "remove", "nobody"])).err).toMatch(/no endpoint is named "nobody"/);
    const kitchen = await run([
      "endpoint",
      "add",
      cloud.endpointUrl("tok-inproc-c"),
      "--name",
      "厨房",
      "--json",
    ]);
    const kitchenId = JSON.parse(kitchen.out).id as string;
    expect((await run(["endpoint", "remove", "厨房"])).out).toContain(kitchenId);
    expect((await run(["endpoint", "remove", id])).code).toBe(0);
    expect((await run(["endpoint", "add", "not a url"])).code).toBe(1);
    // Chinese, as a user with a Chinese locale sees it: the table lines up under its header.
    const chinese = await capture(["status", "--lang", "zh-CN"], env, dir);
    expect(chinese.out).toMatch(/运行中 · pid/);
    expect(chinese.out).toMatch(/接入点 1\/1 已连接/);
    expect(chinese.out).toMatch(/智能体 +地址 +状态/);
    // The server's reasons in Chinese too, worded as the dashboard words them; --json keeps them as sent.
    const refused = await run(["endpoint", "add", "ws://127.0.0.1:1/mcp/?token=zh-refused", "--json"]);
    const refusedId = JSON.parse(refused.out).id as string;
    const reasonOf = async () =>
      (
        JSON.parse((await run(["status", "--json"])).out).endpoints as { id: string; lastError?: string }[]
      ).find((e) => e.id === refusedId)?.lastError;
    await until(async () => (await reasonOf()) !== undefined, 20_000, "the refused link's reason");
    expect(await reasonOf()).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
    const explained = (await capture(["status", "--lang", "zh-CN"], env, dir)).out;
    expect(explained).toMatch(/127\.0\.0\.1:1 拒绝连接（\d+ 秒前）/);
    expect(explained).not.toMatch(/ECONNREFUSED/);
    expect(explained).not.toContain("zh-refused");
    expect((await run(["endpoint", "remove", refusedId])).code).toBe(0);
    // A block read only at the start, changed in the file: status says it waits for a restart.
    const raw = JSON.parse(readFileSync(config, "utf8")) as Record<string, unknown>;
    writeFileSync(config, JSON.stringify({ ...raw, strategies: { mine: "./mine.mjs" } }));
    const waiting = /changed, applies when the server restarts \(xiaozhi-connect restart\): strategies\n/;
    await until(async () => waiting.test((await run(["status"])).out), 20_000, "the restart line");
    expect((await capture(["status", "--lang", "zh-CN"], env, dir)).out).toMatch(
      /重启服务器后生效.*：strategies/,
    );
    process.emit("SIGTERM");
    expect(await serving).toBe(0);
    expect(existsSync(record)).toBe(false);
  }, 60_000);

  it("runs the demo when no config is found, until SIGINT", async () => {
    const { dir, env } = scratch();
    const previous = process.cwd();
    process.chdir(dir);
    try {
      const serving = main(["--port", "0"], env);
      await until(() => existsSync(join(stateDir(env, null), "server.json")), 20_000, "demo up");
      process.emit("SIGINT");
      expect(await serving).toBe(0);
    } finally {
      process.chdir(previous);
    }
  }, 60_000);

  it("starts in the background and stops it", async () => {
    const { dir, env } = scratch();
    writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify({ mcpEndpoint: [] }));
    const started = await capture(["start", "-d", "--port", "0"], { ...env, PATH: process.env.PATH }, dir);
    let stopped: Awaited<ReturnType<typeof capture>> | undefined;
    try {
      expect(started.code, started.err).toBe(0);
      expect(started.out).toMatch(/running in the background \(pid \d+\)/);
      expect((await capture(["start", "--port", "0"], env, dir)).code).toBe(1);
      expect((await capture(["logs", "-n", "5"], env, dir)).code).toBe(0);
    } finally {
      // Whatever failed above, the background server does not outlive the test.
      stopped = await capture(["stop", "--timeout", "10"], env, dir);
    }
    expect(stopped.out).toMatch(/stopped \(pid \d+, config .*xiaozhi\.config\.json\)/);
    expect((await capture(["status", "--json"], env, dir)).out).toMatch(/"running": false/);
  }, 60_000);

  it("reports config lookups, checks and starters", async () => {
    const { dir, env } = scratch();
    expect((await capture(["config", "path"], env, dir)).code).toBe(1);
    expect((await capture(["config", "init"], env, dir)).code).toBe(0);
    const path = await capture(["config", "path"], env, dir);
    expect(path.out).toMatch(/→ +current directory/);
    expect((await capture(["config", "check"], env, dir)).out).toMatch(
      /ok \(0 endpoint\(s\), 0 service\(s\); skipped/,
    );
    writeFileSync(join(dir, "client.json"), JSON.stringify({ mcpEndpoint: [], tts: {}, conection: {} }));
    expect((await capture(["config", "check", join(dir, "client.json")], env, dir)).out).toMatch(
      /tts is xiaozhi-client's own setting \(speech, models, its call log\): it is not used here\n.*conection is not a field xiaozhi-connect reads: it is ignored \(did you mean connection\?\)/,
    );
    // Readable by other users, a file of tokens is named as such; the starter is written 0600.
    chmodSync(join(dir, "client.json"), 0o644);
    expect((await capture(["config", "check", join(dir, "client.json")], env, dir)).out).toContain(
      `other users of this machine (its group or all) can read the file (mode 644), and it holds tokens: chmod 600 ${join(dir, "client.json")}`,
    );
    expect((await capture(["config", "check"], env, dir)).out).not.toContain("other users");
    writeFileSync(join(dir, "broken.json"), "{ nope");
    const broken = await capture(["config", "check", join(dir, "broken.json")], env, dir);
    expect(broken).toMatchObject({ code: 1 });
    expect(broken.out).toMatch(/not valid JSON/);
    expect((await capture(["config", "init", "--force"], env, dir)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "xiaozhi.config.json"), "utf8")).webUI).toEqual({ port: 9999 });
    // Forced over a JSON5 file, it replaces that one: a .json beside it would never be read.
    rmSync(join(dir, "xiaozhi.config.json"));
    writeFileSync(join(dir, "xiaozhi.config.json5"), "{ mcpEndpoint: 'wss://x/?token=old', }");
    chmodSync(join(dir, "xiaozhi.config.json5"), 0o644);
    expect((await capture(["config", "init"], env, dir)).err).toMatch(
      /xiaozhi\.config\.json5 exists already/,
    );
    expect((await capture(["config", "init", "--force"], env, dir)).code).toBe(0);
    expect(existsSync(join(dir, "xiaozhi.config.json"))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, "xiaozhi.config.json5"), "utf8")).webUI).toEqual({ port: 9999 });
    // Replaced, it is kept to its owner as a new one is: it holds tokens.
    expect(statSync(join(dir, "xiaozhi.config.json5")).mode & 0o777).toBe(0o600);
    expect((await capture(["logs"], env, dir)).code).toBe(1);
    expect((await capture(["stop"], env, dir)).out).toMatch(/not running/);
    expect((await capture(["--port", "99999"], env, dir)).code).toBe(2);
    expect((await capture(["--help"], env, dir)).code).toBe(0);
  });

  it("edits the config file when no server runs: endpoints, tools, services", async () => {
    const { dir, env } = scratch();
    expect((await capture(["endpoint", "list"], env, dir)).code).toBe(1);
    writeFileSync(
      join(dir, "xiaozhi.config.json"),
      JSON.stringify({ mcpEndpoint: "<请填写>", mcpServers: { calc: { command: "node" } }, kept: 1 }),
    );
    const url = "wss://api.xiaozhi.me/mcp/?token=offline-secret";
    expect((await capture(["endpoint", "list"], env, dir)).out).toBe("no endpoints\n");
    expect((await capture(["endpoint", "add", url], env, dir)).out).toMatch(/added ep-.* \(not running\)/);
    expect((await capture(["endpoint", "add", url], env, dir)).err).toMatch(/already exists/);
    expect((await capture(["endpoint", "add", "<请填写>"], env, dir)).code).toBe(1);
    const listed = await capture(["endpoint", "list"], env, dir);
    expect(listed.out).toMatch(/not running/);
    expect(listed.out).not.toContain("offline-secret");
    expect((await capture(["service", "list", "--json"], env, dir)).out).toMatch(/"name": "calc"/);
    expect((await capture(["service", "list"], env, dir)).out).toMatch(/calc +not running/);
    expect((await capture(["tool", "list"], env, dir)).out).toBe("no tools\n");
    expect((await capture(["tool", "disable", "calc__add"], env, dir)).code).toBe(0);
    expect((await capture(["tool", "disable", "nosuchformat"], env, dir)).code).toBe(1);
    expect((await capture(["tool", "list"], env, dir)).out).toMatch(/calc__add +calc +no/);
    expect((await capture(["endpoint", "remove", "ep-000000000000"], env, dir)).code).toBe(1);
    expect((await capture(["endpoint", "remove", url], env, dir)).code).toBe(0);
    expect((await capture(["endpoint", "reconnect", "ep-1"], env, dir)).code).toBe(1);
    const saved = JSON.parse(readFileSync(join(dir, "xiaozhi.config.json"), "utf8"));
    expect(saved).toMatchObject({
      kept: 1,
      mcpServerConfig: { calc: { tools: { add: { enable: false } } } },
    });
    writeFileSync(join(dir, "xiaozhi.config.json"), "{ broken");
    expect((await capture(["endpoint", "list"], env, dir)).err).toMatch(/not valid JSON/);
  });

  it("refuses to start on an invalid config, and stops cleanly when a signal comes during startup", async () => {
    const { dir, env } = scratch();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ connection: { loadBalanceStrategy: "no-such" } }));
    const refused = await capture(["--config", bad, "--port", "0"], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/unknown strategy "no-such"/);
    const daemon = await capture(["start", "-d", "--config", bad, "--port", "0"], {
      ...env,
      PATH: process.env.PATH,
    });
    expect(daemon.code).toBe(1);
    expect(daemon.err).toMatch(/could not start: connection\.loadBalanceStrategy: unknown strategy/);

    const slow = join(dir, "slow.json");
    writeFileSync(
      slow,
      JSON.stringify({
        mcpServers: { silent: { command: process.execPath, args: ["-e", "setInterval(() => {}, 1e9)"] } },
      }),
    );
    const serving = main(["--config", slow, "--port", "0"], env);
    process.emit("SIGTERM");
    expect(await serving).toBe(0);
  }, 60_000);

  it("beyond loopback, generates a token, records it for the other commands, and prints it once", async () => {
    const { dir, env } = scratch();
    writeFileSync(join(dir, "xiaozhi.config.json"), JSON.stringify({ mcpEndpoint: [] }));
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const serving = main(
      ["--config", join(dir, "xiaozhi.config.json"), "--host", "0.0.0.0", "--port", "0"],
      env,
    );
    const record = join(stateDir(env, join(dir, "xiaozhi.config.json")), "server.json");
    await until(() => existsSync(record), 20_000, "the server's record");
    vi.restoreAllMocks();
    const saved = JSON.parse(readFileSync(record, "utf8"));
    expect(saved.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out.join("")).toContain(saved.token);
    // The record's token lets the command through the guard the generated token sets up.
    expect((await capture(["endpoint", "add", "ws://127.0.0.1:1/mcp/?token=x"], env, dir)).code).toBe(0);
    process.emit("SIGTERM");
    expect(await serving).toBe(0);
  }, 60_000);

  it("follows a log across rotation and reads rotated files for the last lines", async () => {
    const { dir } = scratch();
    const log = join(dir, "x.log");
    writeFileSync(`${log}.1`, "old 1\nold 2\n");
    writeFileSync(log, "new 1\n");
    expect(lastLines(log, 3, en)).toEqual(["old 1", "old 2", "new 1"]);
    const seen: string[] = [];
    const stop = new AbortController();
    const following = follow(log, (line) => seen.push(line), stop.signal);
    appendFileSync(log, "new 2\n");
    await until(() => seen.length === 1, 5000, "appended line");
    writeFileSync(log, "rotated 1\n");
    await until(() => seen.length === 2, 5000, "line after rotation");
    stop.abort();
    await following;
    expect(seen).toEqual(["new 2", "rotated 1"]);
  });

  it("runs the demo's flaky link and agent traffic on their timers", async () => {
    const demo = await startDemo({ logger: silentLogger, flakyEveryMs: 150, callEveryMs: 50 });
    const tools: ToolSource = {
      specificationVersion: "v1",
      listTools: () => [
        { name: "demo__calculator", inputSchema: { type: "object" } },
        { name: "demo__clock", inputSchema: { type: "object" } },
      ],
      callTool: async (name) => ({ content: [{ type: "text", text: name }] }),
      onToolsChanged: () => () => {},
    };
    const manager = new XiaozhiConnectionManager({ backoff: { initialDelay: 20, maxDelay: 50 } });
    try {
      const entries = demo.config.mcpEndpoint as { url: string; name: string }[];
      expect(entries.map((e) => e.name)).toEqual(["home", "office", "flaky"]);
      await manager.initialize(entries, tools);
      // Every agent calls both tools, and only the flaky one drops: waited for as events.
      const called = new Map<string, Set<string>>();
      const dropped = new Set<string>();
      const seen = new Promise<void>((resolve) => {
        const check = () => {
          const all = entries.every((e) => (called.get(e.name)?.size ?? 0) === 2);
          if (all && dropped.has("flaky")) resolve();
        };
        manager.on("handled", ({ name, tool }) => {
          if (!name || !tool) return;
          called.set(name, (called.get(name) ?? new Set()).add(tool));
          check();
        });
        manager.on("disconnected", ({ name }) => {
          if (name) dropped.add(name);
          check();
        });
      });
      await manager.connect();
      await seen;
      expect([...dropped]).toEqual(["flaky"]);
    } finally {
      await manager.cleanup();
      await demo.stop();
    }
  });

  it("finds configs in the documented order: .json5, .jsonc, .json in each folder", async () => {
    const { dir, env } = scratch();
    const named = (folder: string) =>
      ["json5", "jsonc", "json"].map((ext) => join(folder, `xiaozhi.config.${ext}`));
    const client = join(dir, ".xiaozhi-client");
    expect(findConfig(undefined, {}, dir, dir)).toEqual({ searched: [...named(dir), ...named(client)] });
    writeFileSync(join(dir, "xiaozhi.config.json"), "{}");
    expect(findConfig(undefined, {}, dir, dir).path).toBe(join(dir, "xiaozhi.config.json"));
    writeFileSync(join(dir, "xiaozhi.config.json5"), "// mine\n{ mcpEndpoint: [] }\n");
    expect(findConfig(undefined, {}, dir, dir).path).toBe(join(dir, "xiaozhi.config.json5"));
    expect(findConfig(undefined, { XIAOZHI_CONFIG_DIR: dir }, dir, dir).searched).toHaveLength(9);
    expect(() => findConfig("missing.json", {}, dir, dir)).toThrow(/config file not found/);
    expect(lookupCandidates(undefined, { XIAOZHI_CONFIG: "x.json" }, dir, dir)).toEqual([
      { path: join(dir, "x.json"), source: "$XIAOZHI_CONFIG", exists: false },
    ]);
    expect([isLoopback("127.0.0.2"), isLoopback("::1"), isLoopback("0.0.0.0")]).toEqual([true, true, false]);
    // A config that exists but cannot be used is an error with its reason, never the demo.
    writeFileSync(join(dir, "xiaozhi.config.json5"), "{ mcpEndpoint: [ }\n");
    const refused = await capture(["--port", "0"], env, dir);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/not valid JSON5 at line 1, column \d+/);
    expect(refused.out).not.toMatch(/DEMO MODE/);
  });

  it("serves the demo tools: calculator and clock, with their errors", async () => {
    const [client, server] = InMemoryTransport.createLinkedPair();
    await createDemoTools().connect(server);
    const mcp = new Client({ name: "test", version: "1" });
    await mcp.connect(client);
    const call = async (name: string, args: Record<string, unknown>) =>
      (await mcp.callTool({ name, arguments: args })) as { content: { text: string }[]; isError?: boolean };
    expect((await call("calculator", { a: 6, b: 7, op: "multiply" })).content[0]?.text).toBe("42");
    expect((await call("calculator", { a: 1, b: 0, op: "divide" })).isError).toBe(true);
    expect((await call("clock", { timeZone: "Asia/Shanghai" })).content[0]?.text).toMatch(/GMT\+8|CST/);
    expect((await call("clock", { timeZone: "Mars/Olympus" })).isError).toBe(true);
    await mcp.close();
  });
});
