import "reflect-metadata";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig, servicesOf, unknownFields } from "../src/index.js";
import { calcFixture, finish, Stack } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const stdio = { command: process.execPath, args: [calcFixture] };
const remote = { url: "http://127.0.0.1:1/mcp" };

describe("replica entries", () => {
  it("take a positive `weight`, stdio and URL ones alike, passed on to the services as written", () => {
    const config = parseConfig({
      mcpServers: { pair: { replicas: [{ ...stdio, weight: 3 }, { ...remote, weight: 0.5 }, stdio] } },
    });
    const pair = servicesOf(config).pair;
    if (!pair || !("replicas" in pair)) throw new Error("not a replicated service");
    expect(pair.replicas.map((replica) => (replica as { weight?: number }).weight)).toEqual([
      3,
      0.5,
      undefined,
    ]);
    for (const weight of [0, -1, "2", Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(() => parseConfig({ mcpServers: { pair: { replicas: [{ ...stdio, weight }] } } })).toThrow(
        /mcpServers\.pair\.replicas\[0\]\.weight: /,
      );
    }
    expect(() => parseConfig({ mcpServers: { pair: { replicas: [{ ...remote, weight: 0 }] } } })).toThrow(
      /mcpServers\.pair\.replicas\[0\]\.weight: /,
    );
  });

  it("have their unread fields reported, with the field most likely meant, as the shape they take reads them", () => {
    const raw = {
      mcpServers: {
        pair: {
          replicas: [
            { ...stdio, weight: 2 },
            { ...stdio, wieght: 2, url: remote.url },
            { ...remote, headers: {}, cwd: "/" },
            { wieght: 1 },
          ],
        },
        single: { ...stdio, replicas: "not a list" },
      },
    };
    expect(unknownFields(raw)).toEqual([
      { path: "mcpServers.pair.replicas[1].wieght", meant: "mcpServers.pair.replicas[1].weight" },
      { path: "mcpServers.pair.replicas[1].url" },
      { path: "mcpServers.pair.replicas[2].cwd" },
      { path: "mcpServers.pair.replicas[3].wieght", meant: "mcpServers.pair.replicas[3].weight" },
    ]);
    expect(unknownFields({ mcpServers: { pair: { replicas: [{ ...stdio, weight: 1 }] } } })).toEqual([]);
  });

  it("suggest the nearest known field, and for a short key only one letter added, dropped or swapped away", () => {
    const meant = (key: string) =>
      unknownFields({ mcpServers: { pair: { replicas: [{ ...stdio, [key]: 1 }] } } }).map((field) =>
        field.meant?.replace("mcpServers.pair.replicas[0].", ""),
      );
    // Two letters from `cwd` or `env`, or one changed (`cmd`, `cwd`): other words, not typos of them.
    for (const key of ["id", "cmd", "ws", "n"]) expect(meant(key), key).toEqual([undefined]);
    const typos = {
      wieght: "weight",
      weigth: "weight",
      evn: "env",
      arg: "args",
      commnd: "command",
      handshakeTimout: "handshakeTimeout",
    };
    for (const [key, field] of Object.entries(typos)) expect(meant(key), key).toEqual([field]);
    // The nearest, not the first near enough (`reconnectInterval`, two letters away, comes first).
    expect(unknownFields({ connection: { maReconnectInterval: 1 } })).toEqual([
      { path: "connection.maReconnectInterval", meant: "connection.maxReconnectInterval" },
    ]);
  });
});

describe("strategy names in the config", () => {
  it("a `strategies` key that is not kebab-case says what names are", () => {
    expect(() => parseConfig({ strategies: { Weighted: "./weighted.mjs" } })).toThrow(
      'invalid config: strategies.Weighted: names are kebab-case (lowercase letters and digits joined by "-"), like "least-inflight"',
    );
  });

  it("an unknown `connection.loadBalanceStrategy` names the field; a name the strategies block gains says it applies at the next restart", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], mcpServers: { calc: stdio } });
    const s = stack;
    const lastError = async (config: Record<string, unknown>) => {
      const before = s.adapter.configStatus().last?.at;
      s.writeConfig({ mcpEndpoint: [s.url("a")], mcpServers: { calc: stdio }, ...config });
      await s.until(() => s.adapter.configStatus().last?.at !== before, 5000, "the change read");
      return (await s.api("GET", "/api/status")).body.config.lastError as string | null;
    };
    expect(await lastError({ connection: { loadBalanceStrategy: "weigthed" } })).toBe(
      'connection.loadBalanceStrategy: unknown strategy "weigthed" (registered: round-robin, random, health-based, least-inflight)',
    );
    const added = { strategies: { weighted: "./weighted.mjs" } };
    expect(await lastError({ ...added, connection: { loadBalanceStrategy: "weighted" } })).toBe(
      'connection.loadBalanceStrategy: unknown strategy "weighted" (registered: round-robin, random, health-based, least-inflight); changes to the strategies block apply at the next restart',
    );
    const pair = { replicas: [stdio], strategy: "weighted" };
    expect(await lastError({ ...added, mcpServers: { calc: stdio, pair } })).toMatch(
      /^mcpServers\.pair\.strategy: unknown strategy "weighted" \(registered: .*\); changes to the strategies block apply at the next restart$/,
    );
    // A typo is a typo, whatever else the block gained: no restart would make it known.
    expect(await lastError({ ...added, connection: { loadBalanceStrategy: "weigthed" } })).toBe(
      'connection.loadBalanceStrategy: unknown strategy "weigthed" (registered: round-robin, random, health-based, least-inflight)',
    );
    const typo = { replicas: [stdio], strategy: "weigthed" };
    expect(await lastError({ ...added, mcpServers: { calc: stdio, pair: typo } })).toMatch(
      /^mcpServers\.pair\.strategy: unknown strategy "weigthed" \(registered: [^)]*\)$/,
    );
    // Nothing of them ran: the built-in default still picks, and the service list is the first one.
    expect(s.adapter.config.connection?.loadBalanceStrategy).toBeUndefined();
    expect(s.adapter.services().map((service) => service.name)).toEqual(["calc"]);
    expect(await lastError({ connection: { loadBalanceStrategy: "random" } })).toBeNull();
  });
});
