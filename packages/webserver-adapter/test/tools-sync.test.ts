import { afterEach, describe, expect, it } from "vitest";
import type { ServiceInfo } from "../src/index.js";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

/** The calc fixture's tools, as `<service>__<tool>`. */
const calcTools = (service: string) =>
  ["add", "crash", "grow", "secret", "wait", "work", "work-idem"].map((tool) => `${service}__${tool}`);
const sorted = (...lists: string[][]) => lists.flat().sort();
const same = (expected: string[]) => (held: string[] | undefined) => held?.join() === expected.join();

const calc = (env: Record<string, string> = {}) => ({
  command: process.execPath,
  args: [calcFixture],
  ...(Object.keys(env).length === 0 ? {} : { env }),
});

/** Three agents, `c` limited to the `fast` service; `slow` answers initialize after `slowMs`. */
const config = (connection: Record<string, unknown> = {}, slowMs = 3000) => ({
  mcpEndpoint: ["cloud:a", "cloud:b", { url: "cloud:c", services: ["fast"] }],
  mcpServers: { fast: calc(), slow: calc({ CALC_START_DELAY: String(slowMs) }) },
  connection,
});

/** Resolves once a service's status satisfies `predicate`, watching the adapter's events. */
function untilService(
  target: Stack,
  name: string,
  predicate: (s: ServiceInfo) => boolean,
): Promise<ServiceInfo> {
  return new Promise((resolve) => {
    const check = () => {
      const found = target.adapter.services().find((s) => s.name === name);
      if (!found || !predicate(found)) return false;
      stop();
      resolve(found);
      return true;
    };
    const stop = target.adapter.on("services", check);
    check();
  });
}

for (const relists of [false, true]) {
  const cloud = relists ? "a cloud that re-lists" : "a cloud that lists only at connect";

  describe(`tools sync with ${cloud}`, () => {
    it("gives every agent its whole list at start: a slow service is waited for, within toolsWait", async () => {
      stack = await Stack.start(config(), { relists, waitForServices: false });
      const all = sorted(calcTools("fast"), calcTools("slow"));
      await stack.untilHeld("a", same(all), 15_000);
      await stack.untilHeld("b", same(all), 15_000);
      await stack.untilHeld("c", same(calcTools("fast")), 15_000);
      // The first list waited for `slow` (toolsWait is 5 s): at most one republish, should a
      // very busy machine start it later than that, and none for `c`, which cannot see it.
      expect(stack.sockets("a")).toBeLessThanOrEqual(relists ? 1 : 2);
      expect(stack.sockets("b")).toBeLessThanOrEqual(relists ? 1 : 2);
      expect(stack.sockets("c")).toBe(1);
    });

    it("publishes a service later than toolsWait with one republish, never to an agent that cannot see it", async () => {
      // `slow` answers after 6 s, past toolsWait (5 s); `fast` is up long before.
      stack = await Stack.start(config({}, 6000), { relists, waitForServices: false });
      const all = sorted(calcTools("fast"), calcTools("slow"));
      await stack.untilHeld("a", same(all), 15_000);
      await stack.untilHeld("b", same(all), 15_000);
      await stack.untilHeld("c", same(calcTools("fast")), 15_000);
      expect(stack.sockets("a")).toBeLessThanOrEqual(relists ? 1 : 2);
      expect(stack.sockets("b")).toBeLessThanOrEqual(relists ? 1 : 2);
      expect(stack.sockets("c")).toBe(1);
      expect(stack.cloud.sessions(token("c"))[0]?.toolsChanged).toBe(0);
    });

    it("keeps every affected agent current after a service is added and a tool switched, and leaves the others alone", async () => {
      stack = await Stack.start(config(), { relists });
      const all = sorted(calcTools("fast"), calcTools("slow"));
      await stack.untilHeld("a", same(all));
      await stack.untilHeld("c", same(calcTools("fast")));
      const before = ["a", "b", "c"].map((n) => stack?.sockets(n) ?? 0);

      const added = await stack.api("POST", "/api/services", { name: "extra", config: calc() });
      expect(added.status).toBe(201);
      const withExtra = sorted(all, calcTools("extra"));
      await stack.untilHeld("a", same(withExtra), 8000);
      await stack.untilHeld("b", same(withExtra), 8000);
      // `c` sees only `fast`: its list did not change, and it kept its socket.
      expect(stack.held("c")).toEqual(calcTools("fast"));

      const off = await stack.api("PATCH", "/api/tools/fast__add", { enabled: false });
      expect(off.status).toBe(200);
      const without = (list: string[]) => list.filter((name) => name !== "fast__add");
      await stack.untilHeld("a", same(without(withExtra)), 8000);
      await stack.untilHeld("c", same(without(calcTools("fast"))), 8000);
      expect((await stack.api("PATCH", "/api/tools/fast__add", { enabled: true })).status).toBe(200);
      await stack.untilHeld("b", same(withExtra), 8000);
      await stack.untilHeld("c", same(calcTools("fast")), 8000);

      const after = ["a", "b", "c"].map((n) => stack?.sockets(n) ?? 0);
      if (relists) expect(after).toEqual(before);
      else {
        // One socket per change the agent could see: `c` saw two of the three.
        expect(after[0]).toBe((before[0] ?? 0) + 3);
        expect(after[2]).toBe((before[2] ?? 0) + 2);
      }
      const republished = stack.adapter.endpoints().filter((e) => e.republishing || e.lastError);
      expect(republished).toEqual([]);
      const metrics = await fetch(`${stack.base}/metrics`).then((r) => r.text());
      const counted = (cause: string) =>
        metrics
          .split("\n")
          .filter(
            (line) =>
              line.startsWith("xiaozhi_tools_republished_total{") && line.includes(`cause="${cause}"`),
          )
          .map((line) => Number(line.split(" ").pop()));
      // Each agent that cannot re-list was found out once, then republished at once every time.
      expect(counted("no-relist")).toEqual(relists ? [] : [1, 1, 1]);
      if (!relists) for (const n of counted("remembered")) expect(n).toBeGreaterThanOrEqual(1);
    }, 40_000);

    it("lets a call running on a link finish, and the change lands after it", async () => {
      stack = await Stack.start(config(), { relists });
      await stack.untilHeld("a", (held) => held?.includes("fast__work") === true);
      const agent = stack.cloud.sessions(token("a"))[0];
      const call = agent?.callTool("fast__work", { tag: "long", ms: 1500 });
      expect((await stack.api("POST", "/api/services", { name: "extra", config: calc() })).status).toBe(201);
      const result = await call;
      expect(result?.content).toEqual([{ type: "text", text: expect.stringMatching(/^long@\d+$/) }]);
      await stack.untilHeld("a", (held) => held?.includes("extra__add") === true, 8000);
      expect(stack.sockets("a")).toBe(relists ? 1 : 2);
    });

    it("turns a service that exits every 1.5 s into no reconnect storm, and publishes its removal", async () => {
      stack = await Stack.start(
        { ...config(), mcpServers: { fast: calc(), flappy: calc({ CALC_EXIT_AFTER: "1500" }) } },
        { relists },
      );
      await stack.untilHeld("a", (held) => held?.includes("flappy__add") === true);
      // Let it crash and come back several times (its restarts back off: 1, 2, 4… s).
      await untilService(stack, "flappy", (s) => s.restarts >= 4);
      for (const name of ["a", "b", "c"]) expect(stack.sockets(name)).toBeLessThanOrEqual(3);
      expect((await stack.api("DELETE", "/api/services/flappy")).status).toBe(204);
      await stack.untilHeld("a", same(calcTools("fast")), 10_000);
      await stack.untilHeld("b", same(calcTools("fast")), 10_000);
      expect(stack.held("c")).toEqual(calcTools("fast"));
      for (const name of ["a", "b", "c"]) expect(stack.sockets(name)).toBeLessThanOrEqual(relists ? 1 : 3);
    }, 60_000);
  });
}

describe("tools sync settings", () => {
  it("`notify` leaves an agent that lists only at connect with its list, as configured", async () => {
    stack = await Stack.start({ ...config({ toolsChanged: "notify" }), mcpServers: { fast: calc() } });
    const all = calcTools("fast");
    await stack.untilHeld("a", same(all));
    expect((await stack.api("PATCH", "/api/tools/fast__add", { enabled: false })).status).toBe(200);
    const agent = stack.cloud.sessions(token("a"))[0];
    await agent?.until(() => agent.toolsChanged === 1, 8000);
    expect(stack.sockets("a")).toBe(1);
    expect(stack.held("a")).toEqual(all);
  });

  it("shows a republish as such: status, events and history, never as trouble", async () => {
    stack = await Stack.start(config(), { waitForServices: true });
    await stack.untilHeld("a", (held) => (held?.length ?? 0) > 0);
    const seen: boolean[] = [];
    stack.adapter.on("endpoint", (status) => {
      if (status.id === stack?.idOf("a")) seen.push(status.republishing);
    });
    expect((await stack.api("POST", "/api/services", { name: "extra", config: calc() })).status).toBe(201);
    await stack.untilHeld("a", (held) => held?.includes("extra__add") === true, 8000);
    await stack.untilHeld("b", (held) => held?.includes("extra__add") === true, 8000);
    expect(seen).toContain(true);
    const a = stack.adapter.endpoints().find((e) => e.id === stack?.idOf("a"));
    expect(a).toMatchObject({ state: "connected", republishing: false, reconnectAttempts: 0 });
    expect(a?.lastError).toBeUndefined();
    // The up/down timeline shows no down period for a republish.
    const history = await stack.api("GET", `/api/history?endpoint=${stack.idOf("a")}`);
    const periods = history.body.endpoints[0].periods as { up: boolean }[];
    expect(periods.length).toBeGreaterThan(0);
    expect(periods.every((p) => p.up)).toBe(true);
    expect(stack.logs.join("\n")).toMatch(/republishing/);
  });
});
