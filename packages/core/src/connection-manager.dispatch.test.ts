import { describe, expect, it, vi } from "vitest";
import type { ConnectionManagerOptions, ManagerEventMap } from "./connection-manager.js";
import {
  connected,
  id,
  ManualScorer,
  settle,
  setup,
  url,
  useFakeTimers,
} from "./connection-manager.test-helpers.js";
import { XiaozhiError } from "./errors.js";
import type { Strategy } from "./strategy.js";
import type { MemoryConnection } from "./testing/memory-connection.js";

useFakeTimers();

describe("dispatch and broadcast", () => {
  async function connected(n: number, options: Partial<ConnectionManagerOptions<MemoryConnection>> = {}) {
    const ctx = setup(options);
    await ctx.manager.initialize(Array.from({ length: n }, (_, i) => url(i + 1)));
    const done = ctx.manager.connect();
    await settle();
    await done;
    return ctx;
  }

  it("spreads operations with the strategy (round-robin by default)", async () => {
    const { manager } = await connected(3);
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) picks.push(await manager.dispatch(async (c) => c.id));
    expect(picks.filter((p) => p === id(1))).toHaveLength(2);
    expect(new Set(picks).size).toBe(3);
    await manager.cleanup();
  });

  it("fails over at once when the operation provably never reached the connection", async () => {
    const { network, manager } = await connected(2);
    network.behave(url(1), { sendFails: true });
    const reached: string[] = [];
    for (let i = 0; i < 4; i++) {
      const value = await manager.dispatch(async (c) => {
        await c.notify("notifications/message", { i });
        reached.push(c.id);
        return c.id;
      });
      expect(value).toBe(id(2));
    }
    expect(reached).toEqual([id(2), id(2), id(2), id(2)]);
    expect(network.connection(url(1))?.sent).toEqual([]);
    await manager.cleanup();
  });

  it("never retries an operation that may have reached its connection", async () => {
    const { manager } = await connected(2);
    let runs = 0;
    await expect(
      manager.dispatch(async () => {
        runs++;
        throw new Error("tool exploded after receiving the call");
      }),
    ).rejects.toThrow("tool exploded");
    expect(runs).toBe(1);
    await manager.cleanup();
  });

  it("reports NO_HEALTHY_CONNECTION with the last failure as cause", async () => {
    const { network, manager } = await connected(2);
    network.behave(url(1), { sendFails: true });
    network.behave(url(2), { sendFails: true });
    const error = await manager.dispatch((c) => c.notify("x")).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "NO_HEALTHY_CONNECTION",
      message: "no healthy connection left after 2 failed",
    });
    expect((error as XiaozhiError).cause).toMatchObject({ code: "SEND_FAILED" });
    network.dropAll();
    await expect(manager.dispatch(async () => 1)).rejects.toMatchObject({ code: "NO_HEALTHY_CONNECTION" });
    await manager.cleanup();
  });

  it("dispatches to a healthy link within the same turn after another drops", async () => {
    const { network, manager } = await connected(2);
    network.connection(url(1))?.drop();
    const picks = await Promise.all([1, 2, 3].map(() => manager.dispatch(async (c) => c.id)));
    expect(picks).toEqual([id(2), id(2), id(2)]);
    await manager.cleanup();
  });

  it("aborts at the deadline and on the caller's signal", async () => {
    const { manager } = await connected(1);
    const slow = manager.dispatch(
      (_c, signal) =>
        new Promise((_r, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      {
        timeout: 1000,
      },
    );
    const expectation = expect(slow).rejects.toMatchObject({ code: "TIMEOUT" });
    await vi.advanceTimersByTimeAsync(1000);
    await expectation;
    const controller = new AbortController();
    const aborted = manager.dispatch(() => new Promise(() => {}), { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await expect(aborted).rejects.toThrow("caller gave up");
    const pre = new AbortController();
    pre.abort();
    await expect(manager.dispatch(async () => 1, { signal: pre.signal })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(manager.getEndpointStatus(id(1))?.inflight).toBe(0);
    await manager.cleanup();
  });

  it("with no deadline of its own, runs on the caller's signal: no timer, and only that signal ends it", async () => {
    const { manager } = await connected(1);
    const timersBefore = vi.getTimerCount();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = manager.dispatch(
      (_c, signal) => {
        seen = signal;
        return new Promise(() => {});
      },
      { signal: controller.signal, timeout: 2 ** 31 - 1 },
    );
    await settle();
    expect(seen).toBe(controller.signal);
    expect(vi.getTimerCount()).toBe(timersBefore);
    // Far past any deadline a timer could hold, it still runs.
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await vi.advanceTimersByTimeAsync(30 * 24 * 3600_000);
    expect(settled).toBe(false);
    controller.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
    expect(manager.getEndpointStatus(id(1))?.inflight).toBe(0);
    // Without a signal it still gets a timer, so a dispatch never runs unbounded by accident.
    const unbounded = manager.dispatch(() => new Promise(() => {}), { timeout: 2 ** 31 - 1 });
    unbounded.catch(() => {});
    expect(vi.getTimerCount()).toBe(timersBefore + 1);
    await manager.cleanup();
  });

  it("broadcasts to every connected endpoint and reports each outcome", async () => {
    const { network, manager } = await connected(3);
    network.behave(url(2), { sendFails: true });
    network.connection(url(3))?.drop();
    const results = await manager.broadcast((c) => c.notify("notifications/tools/list_changed"));
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      [id(1), true],
      [id(2), false],
    ]);
    expect(network.connection(url(1))?.sent).toEqual([{ method: "notifications/tools/list_changed" }]);
    await manager.cleanup();
  });

  it("falls back safely when a third-party strategy returns a foreign candidate", async () => {
    const rogue: Strategy = {
      specificationVersion: "v1",
      name: "rogue",
      select: () => ({ id: "nope" }) as never,
    };
    const { manager } = await connected(2, { strategy: rogue });
    expect(await manager.dispatch(async (c) => c.id)).toBe(id(1));
    manager.configure({ strategy: { specificationVersion: "v1", name: "last", select: (c) => c.at(-1) } });
    expect(manager.strategy.name).toBe("last");
    expect(await manager.dispatch(async (c) => c.id)).toBe(id(2));
    await manager.cleanup();
  });

  it("serves through the first candidate when a strategy throws or answers with a promise, and logs it once", async () => {
    const logged: { object: Record<string, unknown>; message: string | undefined }[] = [];
    const error = (object: Record<string, unknown>, message?: string) => logged.push({ object, message });
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error } as never;
    const faulty = (name: string, select: () => unknown): Strategy => ({
      specificationVersion: "v1",
      name,
      select: select as Strategy["select"],
    });
    const { manager } = await connected(2, {
      logger,
      strategy: faulty("throws", () => {
        throw new Error("bad pick for wss://api.example.com/mcp/?token=s3cret");
      }),
    });
    for (let i = 0; i < 3; i++) expect(await manager.dispatch(async (c) => c.id)).toBe(id(1));
    // A promise that rejects after the pick is the strategy's, never an unhandled rejection.
    manager.configure({ strategy: faulty("async", () => Promise.reject(new Error("later"))) });
    for (let i = 0; i < 3; i++) expect(await manager.dispatch(async (c) => c.id)).toBe(id(1));
    manager.configure({ strategy: faulty("foreign", () => ({ id: "nope" })) });
    expect(await manager.dispatch(async (c) => c.id)).toBe(id(1));
    await settle();
    expect(logged.map((l) => [l.object.strategy, l.message])).toEqual([
      ["throws", 'strategy "throws" threw: the first candidate is used instead (said once)'],
      [
        "async",
        'strategy "async" answered with a promise; select must return a candidate: the first candidate is used instead (said once)',
      ],
      [
        "foreign",
        'strategy "foreign" returned a candidate it was not given: the first candidate is used instead (said once)',
      ],
    ]);
    expect(logged[0]?.object.err).toContain("bad pick");
    expect(JSON.stringify(logged)).not.toContain("s3cret");
    await manager.cleanup();
  });

  it("passes the affinity key, attempt and panic flag to the strategy", async () => {
    const contexts: unknown[] = [];
    const spy: Strategy = {
      specificationVersion: "v1",
      name: "spy",
      select: (candidates, context) => {
        contexts.push(context);
        return candidates[0];
      },
    };
    const { manager } = await connected(1, { strategy: spy });
    await manager.dispatch(async () => 1, { key: "agent-7" });
    expect(contexts[0]).toMatchObject({ attempt: 0, panic: false, key: "agent-7" });
    await manager.cleanup();
  });
});

describe("health scoring", () => {
  it("feeds observations, skips ejected connections and spreads over all in panic", async () => {
    const scorer = new ManualScorer();
    const { network, manager } = setup({ healthScorer: scorer });
    await connected(manager, [url(1), url(2), url(3)]);
    const rtts: ManagerEventMap["rtt"][] = [];
    manager.on("rtt", (event) => rtts.push(event));
    const ping = network.connection(url(1))?.ping();
    await settle();
    expect(await ping).toBe(1);
    // The round trip carries the scorer's score, as the status shows it.
    expect(rtts).toEqual([expect.objectContaining({ id: id(1), healthScore: 90 })]);
    expect(manager.getEndpointStatus(id(1))?.healthScore).toBe(90);
    network.connection(url(1))?.receiveFrame();
    // An answered request (a tool call the link carried) counts as a success of the link.
    network.connection(url(1))?.answered("tools/call", false, 3, "calc__add");
    expect(scorer.observed).toEqual(
      expect.arrayContaining([
        [id(1), "connected"],
        [id(1), "rtt"],
        [id(1), "frame"],
        [id(1), "success"],
      ]),
    );
    scorer.eject(id(1));
    expect(manager.getHealthyConnections().map((c) => c.id)).toEqual([id(2), id(3)]);
    expect(manager.getConnections().map((c) => c.id)).toEqual([id(1), id(2), id(3)]);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ healthScore: 10, health: { ejected: true } });
    const picks = new Set<string>();
    for (let i = 0; i < 6; i++) picks.add(await manager.dispatch(async (c) => c.id));
    expect(picks).toEqual(new Set([id(2), id(3)]));
    // Two of three ejected: below the 50 % panic threshold, so all connected ones serve again.
    scorer.eject(id(2));
    const panicPicks = new Set<string>();
    for (let i = 0; i < 6; i++) panicPicks.add(await manager.dispatch(async (c) => c.id));
    expect(panicPicks.size).toBe(3);
    await manager
      .dispatch(async () => {
        throw new XiaozhiError("SEND_FAILED", "x");
      })
      .catch(() => {});
    expect(scorer.observed.some(([, kind]) => kind === "failure")).toBe(true);
    await manager.cleanup();
    expect(scorer.listeners.size).toBe(0);
  });
});
