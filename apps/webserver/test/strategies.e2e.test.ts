import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  });

  it("refuses to start, naming the entry, when a module cannot be loaded or makes no such strategy", async () => {
    if (!cloud) throw new Error("setup failed");
    writeFileSync(join(dir, "strategies", "not-a-factory.mjs"), "export default 42;\n");
    writeFileSync(join(dir, "strategies", "misnamed.mjs"), lastReplica);
    writeFileSync(join(dir, "strategies", "broken.mjs"), 'throw new Error("boom at load");\n');
    const cases: [Record<string, string>, RegExp][] = [
      [
        { missing: "./strategies/missing.mjs" },
        /strategies\.missing: \.\/strategies\/missing\.mjs is not a file/,
      ],
      [
        { broken: "./strategies/broken.mjs" },
        /strategies\.broken: cannot load \.\/strategies\/broken\.mjs: .*boom at load/,
      ],
      [{ "not-a-factory": "./strategies/not-a-factory.mjs" }, /strategies\.not-a-factory: .* default export/],
      [{ misnamed: "./strategies/misnamed.mjs" }, /strategies\.misnamed: .*calls itself "last-replica"/],
      [
        { bare: "strategies/last-replica.mjs" },
        /strategies\.bare: "strategies\/last-replica\.mjs" is not a path/,
      ],
      [
        { random: "./strategies/last-replica.mjs" },
        /strategies\.random: a strategy named "random" is already registered/,
      ],
    ];
    for (const [strategies, reason] of cases) {
      const config = writeConfig("bad.json", {
        mcpEndpoint: [cloud.endpointUrl("bad-agent-token")],
        strategies,
      });
      const run = await runCli(["start", "--config", config, "--port", "0"], env, dir);
      expect(run.code).toBe(1);
      expect(run.out + run.err).toMatch(reason);
      expect(run.out + run.err).not.toContain("bad-agent-token");
    }
    // What the file alone tells, `config check` tells before a start.
    for (const [strategies, reason] of cases.slice(0, 1).concat(cases.filter(([s]) => "bare" in s))) {
      const check = await runCli(["config", "check", writeConfig("bad.json", { strategies })], env, dir);
      expect(check.code).toBe(1);
      expect(check.out + check.err).toMatch(reason);
    }
  });
});
