import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "@xiaozhi-connect/core/testing";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, runCli, spawnServer, stopServer, waitForOutput } from "./run-server.js";

// A third party's strategy, named in the config and loaded by the command at start: it picks the
// replicas of a service that agents call through a simulated Xiaozhi cloud.
const calc = join(import.meta.dirname, "../../../packages/mcp-services/test/fixtures/calc-server.mjs");
const agent = "strategy-agent-token";
let cloud: SimulatedXiaozhiCloud | undefined;
let server: RunningServer | undefined;
let dir = "";
let env: Record<string, string> = {};

const lastReplica = `import { appendFileSync } from "node:fs";
export default function lastReplica() {
  return {
    specificationVersion: "v1",
    name: "last-replica",
    select(candidates) {
      const picked = candidates.at(-1);
      appendFileSync(process.env.PICKS, picked.id + "\\n");
      return picked;
    },
  };
}
`;

function writeConfig(name: string, config: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  dir = mkdtempSync(join(tmpdir(), "xz-strategies-"));
  mkdirSync(join(dir, "state"));
  mkdirSync(join(dir, "strategies"));
  writeFileSync(join(dir, "strategies", "last-replica.mjs"), lastReplica);
  env = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    XDG_STATE_HOME: join(dir, "state"),
    NO_COLOR: "1",
    PICKS: join(dir, "picks.txt"),
  };
  const replica = {
    command: process.execPath,
    args: [calc],
    env: { CALC_EXECUTIONS: join(dir, "calls.txt") },
  };
  const config = writeConfig("xiaozhi.config.json", {
    mcpEndpoint: [cloud.endpointUrl(agent)],
    mcpServers: { pair: { replicas: [replica, replica] } },
    connection: { loadBalanceStrategy: "last-replica" },
    strategies: { "last-replica": "./strategies/last-replica.mjs" },
  });
  const started = spawnServer(["--config", config, "--port", "0"], env, dir);
  const ready = /ready: dashboard (\S+)/;
  await waitForOutput(started, ready, 30_000);
  server = { ...started, url: (ready.exec(started.stdout())?.[1] ?? "").replace(/#.*$/, "") };
}, 60_000);

afterAll(async () => {
  if (server) expect(await stopServer(server)).toBe(0);
  await cloud?.stop();
});

describe("a strategy of one's own, named in the config", () => {
  it("is loaded from a path beside the config and picks the replicas of every call", async () => {
    if (!cloud || !server) throw new Error("setup failed");
    const session = await cloud.waitForSession(agent, 10_000);
    await session.ready;
    await cloud.untilTools(agent, (names) => names?.includes("pair__add") === true);
    for (let i = 0; i < 4; i++) {
      expect(await session.callTool("pair__add", { a: i, b: 1 })).toMatchObject({
        content: [{ type: "text", text: String(i + 1) }],
      });
    }
    expect(readFileSync(join(dir, "picks.txt"), "utf8").trim().split("\n")).toEqual([
      "pair#1",
      "pair#1",
      "pair#1",
      "pair#1",
    ]);
    // One process served them all: the one the strategy picked.
    const pids = readFileSync(join(dir, "calls.txt"), "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(" ")[0]);
    expect(pids).toHaveLength(4);
    expect(new Set(pids).size).toBe(1);
    const services = (await (await fetch(new URL("/api/services", server.url))).json()) as {
      services: { name: string; strategy?: string }[];
    };
    expect(services.services.find((s) => s.name === "pair")?.strategy).toBe("last-replica");
    // `config check` knows the field.
    const check = await runCli(["config", "check", join(dir, "xiaozhi.config.json")], env, dir);
    expect(check.code, check.err).toBe(0);
    expect(check.out + check.err).not.toMatch(/unknown|did you mean/i);
    // Read at the start only: a change says so and keeps the strategies running.
    const path = join(dir, "xiaozhi.config.json");
    const changed = JSON.parse(readFileSync(path, "utf8"));
    changed.strategies.other = "./strategies/other.mjs";
    writeFileSync(path, JSON.stringify(changed));
    await waitForOutput(server, /the strategies block changed: it applies when the server restarts/, 20_000);
    await session.callTool("pair__add", { a: 1, b: 1 });
    expect(readFileSync(join(dir, "picks.txt"), "utf8").trim().split("\n")).toHaveLength(5);
    // A name the block gains, used in the same save, is refused saying when the block applies.
    changed.strategies.weighted = "./strategies/last-replica.mjs";
    changed.connection.loadBalanceStrategy = "weighted";
    writeFileSync(path, JSON.stringify(changed));
    const status = async () =>
      (
        (await (await fetch(new URL("/api/status", server?.url))).json()) as {
          config: { lastError: string | null };
        }
      ).config;
    await until(async () => (await status()).lastError !== null, 10_000, "the change refused");
    expect((await status()).lastError).toMatch(
      /^connection\.loadBalanceStrategy: unknown strategy "weighted" \(registered: .*last-replica\); changes to the strategies block apply at the next restart$/,
    );
    await session.callTool("pair__add", { a: 2, b: 1 });
    expect(readFileSync(join(dir, "picks.txt"), "utf8").trim().split("\n")).toHaveLength(6);
  }, 60_000);

  it("refuses to start, naming the field, when a module cannot be loaded, makes no such strategy or a name is unknown; config check says the same", async () => {
    if (!cloud) throw new Error("setup failed");
    const strategies = join(dir, "strategies");
    writeFileSync(join(strategies, "not-a-factory.mjs"), "export default 42;\n");
    writeFileSync(join(strategies, "misnamed.mjs"), lastReplica);
    writeFileSync(join(strategies, "broken.mjs"), 'throw new Error("boom at load");\n');
    writeFileSync(join(strategies, "syntax.mjs"), "export default function ( {\n");
    writeFileSync(join(strategies, "syntax.cjs"), '"use strict";\nmodule.exports = function ( {\n');
    writeFileSync(join(strategies, "throws.mjs"), 'export default () => { throw new Error("no pick"); };\n');
    writeFileSync(join(strategies, "typed.ts"), `enum Pick { Last }\n${lastReplica}`);
    // What newer Node (22.18, 23.6 on), which strips types, throws for such a file, and for one in node_modules.
    const stripping = (code: string) =>
      `throw Object.assign(new Error("Node says no"), { code: "${code}" });\n`;
    writeFileSync(join(strategies, "enum.mjs"), stripping("ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX"));
    writeFileSync(join(strategies, "in-deps.mjs"), stripping("ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING"));
    // Its imports resolve from its own folder, where no @xiaozhi-connect/core is installed.
    writeFileSync(
      join(strategies, "uses-core.mjs"),
      'import { roundRobin } from "@xiaozhi-connect/core";\nexport default roundRobin;\n',
    );
    const pair = { replicas: [{ command: process.execPath, args: [calc] }] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { strategies: { missing: "./strategies/missing.mjs" } },
        /strategies\.missing: \.\/strategies\/missing\.mjs is not a file/,
      ],
      [
        { strategies: { broken: "./strategies/broken.mjs" } },
        /strategies\.broken: cannot load \.\/strategies\/broken\.mjs: .*boom at load/,
      ],
      // Node 20 gives an ES module's syntax error no line; CommonJS's, and newer Node's, have one.
      [
        { strategies: { syntax: "./strategies/syntax.mjs" } },
        /strategies\.syntax: cannot load \.\/strategies\/syntax\.mjs: Unexpected end of input(?: at \.\/strategies\/syntax\.mjs:2)?\n/,
      ],
      [
        { strategies: { syntax: "./strategies/syntax.cjs" } },
        /strategies\.syntax: cannot load \.\/strategies\/syntax\.cjs: Unexpected end of input at \.\/strategies\/syntax\.cjs:3\n/,
      ],
      [
        { strategies: { typed: "./strategies/typed.ts" } },
        /strategies\.typed: cannot load .*typed\.ts: .*\(build it to JavaScript and name the built file\)/,
      ],
      [
        { strategies: { typed: "./strategies/enum.mjs" } },
        /strategies\.typed: cannot load .*enum\.mjs: Node says no \(build it to JavaScript/,
      ],
      [
        { strategies: { typed: "./strategies/in-deps.mjs" } },
        /strategies\.typed: cannot load .*in-deps\.mjs: Node says no \(build it to JavaScript/,
      ],
      [
        { strategies: { throws: "./strategies/throws.mjs" } },
        /strategies\.throws: strategy "throws": its factory threw: no pick/,
      ],
      [
        { strategies: { "not-a-factory": "./strategies/not-a-factory.mjs" } },
        /strategies\.not-a-factory: .* default export/,
      ],
      [
        { strategies: { misnamed: "./strategies/misnamed.mjs" } },
        /strategies\.misnamed: .*calls itself "last-replica"/,
      ],
      [
        { strategies: { "uses-core": "./strategies/uses-core.mjs" } },
        /strategies\.uses-core: cannot load .*Cannot find package '@xiaozhi-connect\/core'.*resolves its own imports from its folder: bundle @xiaozhi-connect\/core into the module, or install it \(from the tarball `pnpm pack` makes in a clone\) in a node_modules there or above\)/,
      ],
      [
        { strategies: { bare: "strategies/last-replica.mjs" } },
        /strategies\.bare: "strategies\/last-replica\.mjs" is not a path: write \.\/strategies\/last-replica\.mjs/,
      ],
      [
        { strategies: { pkg: "@xiaozhi-connect/balancer" } },
        /strategies\.pkg: "@xiaozhi-connect\/balancer" is a package, not a path: .*\.\/node_modules\/@xiaozhi-connect\/balancer\/…/,
      ],
      [
        { strategies: { random: "./strategies/last-replica.mjs" } },
        /strategies\.random: a strategy named "random" is already registered/,
      ],
      [
        { strategies: { Weighted: "./strategies/last-replica.mjs" } },
        /strategies\.Weighted: names are kebab-case .*, like "least-inflight"/,
      ],
      [
        { connection: { loadBalanceStrategy: "weigthed" } },
        /connection\.loadBalanceStrategy: unknown strategy "weigthed" \(registered: /,
      ],
      [
        {
          strategies: { "last-replica": "./strategies/last-replica.mjs" },
          mcpServers: { echo: { ...pair, strategy: "nosuch" } },
        },
        /mcpServers\.echo\.strategy: unknown strategy "nosuch" \(registered: .*last-replica\)/,
      ],
    ];
    for (const [fields, reason] of cases) {
      const config = writeConfig("bad.json", {
        mcpEndpoint: [cloud.endpointUrl("bad-agent-token")],
        ...fields,
      });
      const [run, check] = await Promise.all([
        runCli(["start", "--config", config, "--port", "0"], env, dir),
        runCli(["config", "check", config], env, dir),
      ]);
      expect(run.code, run.out + run.err).toBe(1);
      expect(run.out + run.err).toMatch(reason);
      expect(run.out + run.err).not.toContain("bad-agent-token");
      // What stops a start, `config check` tells before one.
      expect(check.code, check.out + check.err).toBe(1);
      expect(check.out + check.err).toMatch(reason);
    }
  }, 180_000);

  it("loads a CommonJS build, whose `exports.default` is the factory, as `start` and `config check` alike", async () => {
    if (!cloud) throw new Error("setup failed");
    // As `tsc` compiles `export default lastReplica` in a package of "type": "commonjs" (npm init's).
    const cjs = join(dir, "strategies", "cjs");
    mkdirSync(cjs, { recursive: true });
    writeFileSync(join(cjs, "package.json"), '{ "name": "last-replica", "type": "commonjs" }\n');
    writeFileSync(
      join(cjs, "index.js"),
      `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.default = lastReplica;
function lastReplica() {
  return { specificationVersion: "v1", name: "last-replica", select: (candidates) => candidates.at(-1) };
}
`,
    );
    const config = writeConfig("cjs.json", {
      mcpEndpoint: [cloud.endpointUrl("cjs-agent-token")],
      mcpServers: { pair: { replicas: [{ command: process.execPath, args: [calc] }] } },
      connection: { loadBalanceStrategy: "last-replica" },
      strategies: { "last-replica": "./strategies/cjs/index.js" },
    });
    const check = await runCli(["config", "check", config], env, dir);
    expect(check.code, check.out + check.err).toBe(0);
    const started = spawnServer(["--config", config, "--port", "0"], env, dir);
    const ready = /ready: dashboard (\S+)/;
    await waitForOutput(started, ready, 30_000);
    const url = (ready.exec(started.stdout())?.[1] ?? "").replace(/#.*$/, "");
    try {
      const services = (await (await fetch(new URL("/api/services", url))).json()) as {
        services: { name: string; strategy?: string }[];
      };
      expect(services.services.find((s) => s.name === "pair")?.strategy).toBe("last-replica");
    } finally {
      expect(await stopServer({ ...started, url })).toBe(0);
    }
  }, 60_000);
});
