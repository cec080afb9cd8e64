import type { ConnectionFactory, ManagerEventMap, ToolDescriptor, ToolSource } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type XiaozhiConnectionFactory,
  XiaozhiConnectionManager,
  type XiaozhiEndpointConnection,
  type XiaozhiTransportOptions,
  xiaozhiConnectionFactory,
} from "../src/index.js";
import { SimulatedXiaozhiCloud } from "../src/testing/index.js";
import { captureLogger, TestTools, untilEvent } from "./helpers.js";

const token = (n: number) => `sync-secret-${n}`;
const tool = (name: string): ToolDescriptor => ({ name, inputSchema: { type: "object" } });

let cloud: SimulatedXiaozhiCloud | undefined;
const managers: XiaozhiConnectionManager[] = [];

afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.cleanup();
  await cloud?.stop();
  cloud = undefined;
});

/** The tools of one service only (`calc__…`), as an endpoint limited to it sees them. */
function onlyCalc(source: ToolSource): ToolSource {
  let from: readonly ToolDescriptor[] | undefined;
  let view: readonly ToolDescriptor[] = [];
  const filter = (list: readonly ToolDescriptor[]) => {
    if (list !== from) {
      from = list;
      view = list.filter((t) => t.name.startsWith("calc__"));
    }
    return view;
  };
  return {
    specificationVersion: "v1",
    listTools: () => filter(source.listTools() as readonly ToolDescriptor[]),
    callTool: (name, args, options) => source.callTool(name, args, options),
    onToolsChanged: (listener) => source.onToolsChanged(listener),
  };
}

interface Setup {
  readonly tools: TestTools;
  readonly manager: XiaozhiConnectionManager;
  readonly factory: XiaozhiConnectionFactory;
  readonly republished: ManagerEventMap["republishing"][];
  readonly logger: ReturnType<typeof captureLogger>;
}

/** Endpoints 1..n on the cloud; endpoint 3, when there is one, sees only the `calc__` tools. */
async function setup(
  relists: boolean,
  count: number,
  transport: XiaozhiTransportOptions = {},
  tools = new TestTools(),
): Promise<Setup> {
  cloud = await SimulatedXiaozhiCloud.start({ behavior: { relists } });
  const logger = captureLogger();
  const factory = xiaozhiConnectionFactory({ relistGrace: 300, ...transport });
  const limited: ConnectionFactory<XiaozhiEndpointConnection> = (endpoint, context) =>
    factory(endpoint, endpoint.id === "agent-3" ? { ...context, tools: onlyCalc(context.tools) } : context);
  const manager = new XiaozhiConnectionManager({
    connectionFactory: limited,
    logger,
    backoff: { initialDelay: 50, maxDelay: 200 },
  });
  managers.push(manager);
  const republished: ManagerEventMap["republishing"][] = [];
  manager.on("republishing", (event) => republished.push(event));
  const endpoints = Array.from({ length: count }, (_, i) => ({
    id: `agent-${i + 1}`,
    url: (cloud as SimulatedXiaozhiCloud).endpointUrl(token(i + 1)),
  }));
  await manager.initialize(endpoints, tools);
  await manager.connect();
  for (let n = 1; n <= count; n++) await cloud.untilTools(token(n), (held) => held !== undefined);
  return { tools, manager, factory, republished, logger };
}

const held = (n: number) => cloud?.toolsOf(token(n));
const sockets = (n: number) => cloud?.upgrades.get(token(n)) ?? 0;

for (const relists of [false, true]) {
  describe(`tools reach agents of a cloud that ${relists ? "re-lists on list_changed" : "lists only at connect"}`, () => {
    it("gives every agent the tools it may see, reconnecting only where the agent cannot re-list", async () => {
      const { tools, manager, republished } = await setup(relists, 3);
      expect(held(3)).toEqual(["calc__add", "calc__echo"]);
      tools.change([...tools.tools, tool("clock__now")]);
      const all = ["calc__add", "calc__echo", "clock__now", "slow__wait"];
      await cloud?.untilTools(token(1), (h) => h?.join() === all.join());
      await cloud?.untilTools(token(2), (h) => h?.join() === all.join());
      expect(held(3)).toEqual(["calc__add", "calc__echo"]);
      // A cloud that re-lists needs no extra socket; one that cannot gets exactly one per agent.
      expect([sockets(1), sockets(2)]).toEqual(relists ? [1, 1] : [2, 2]);
      // The limited agent's own view did not change: it heard nothing and kept its socket.
      expect(sockets(3)).toBe(1);
      const limited = cloud?.sessions(token(3))[0];
      expect(limited?.toolsChanged).toBe(0);
      expect(republished.map((e) => `${e.id} ${e.cause}`).sort()).toEqual(
        relists ? [] : ["agent-1 no-relist", "agent-2 no-relist"],
      );
      // A republish is no failure: no error, no attempt counted, full health.
      for (const status of manager.getConnectionStatus()) {
        expect(status).toMatchObject({ state: "connected", reconnectAttempts: 0, republishing: false });
        expect(status.lastError).toBeUndefined();
      }
    });

    it("lets a running call finish before republishing, and the change still lands", async () => {
      const tools = new TestTools();
      let release: (() => void) | undefined;
      tools.callTool = async (name, _args, { signal }) => {
        await new Promise<void>((resolve, reject) => {
          release = resolve;
          signal.addEventListener("abort", () => reject(signal.reason));
          tools.noteCall(name);
        });
        return { content: [{ type: "text", text: "finished" }] };
      };
      await setup(relists, 1, {}, tools);
      const session = cloud?.sessions(token(1))[0];
      const call = session?.callTool("slow__wait");
      await tools.started(1);
      tools.change([tool("clock__now")]);
      // Told at once; a republish, where one is needed, waits for the call.
      await session?.until(() => session.toolsChanged === 1, 5000);
      expect(sockets(1)).toBe(1);
      release?.();
      const result = await call;
      expect(result?.content).toEqual([{ type: "text", text: "finished" }]);
      await cloud?.untilTools(token(1), (h) => h?.join() === "clock__now");
      expect(sockets(1)).toBe(relists ? 1 : 2);
    });

    it("republishes nothing when a burst of changes ends where it began", async () => {
      const { tools } = await setup(relists, 2);
      const before = tools.tools;
      // The check after the burst reads the list: that is when the burst was judged.
      const list = tools.listTools.bind(tools);
      let judged!: () => void;
      const wasJudged = new Promise<void>((resolve) => {
        judged = resolve;
      });
      tools.listTools = () => {
        judged();
        return list();
      };
      tools.change([tool("clock__now")]);
      tools.change([...before]);
      await wasJudged;
      tools.listTools = list;
      // A real change afterwards reaches the agents, and is the only one they ever heard of.
      tools.change([...before, tool("late__marker")]);
      await cloud?.untilTools(token(1), (h) => h?.includes("late__marker") === true);
      await cloud?.untilTools(token(2), (h) => h?.includes("late__marker") === true);
      expect(cloud?.sessions(token(1))[0]?.toolsChanged).toBe(relists ? 1 : 0);
      expect([sockets(1), sockets(2)]).toEqual(relists ? [1, 1] : [2, 2]);
    });
  });
}

describe("republishing policy", () => {
  it("remembers an agent that does not re-list and republishes it at once the next time", async () => {
    const { tools, republished } = await setup(false, 1);
    tools.change([tool("one__a")]);
    await cloud?.untilTools(token(1), (h) => h?.join() === "one__a");
    const second = cloud?.sessions(token(1))[0];
    tools.change([tool("two__b")]);
    await cloud?.untilTools(token(1), (h) => h?.join() === "two__b");
    expect(republished.map((e) => e.cause)).toEqual(["no-relist", "remembered"]);
    // Known by then to list only at connect, the agent was reopened without being told first.
    expect(second?.toolsChanged).toBe(0);
    expect(sockets(1)).toBe(3);
  });

  it("`notify` only tells the agent; `reconnect` reopens even an agent that re-lists", async () => {
    const notify = await setup(false, 1, { toolsChanged: "notify" });
    notify.tools.change([tool("clock__now")]);
    const session = cloud?.sessions(token(1))[0];
    await session?.until(() => session.toolsChanged === 1, 5000);
    expect(sockets(1)).toBe(1);
    expect(held(1)).toEqual(["calc__add", "calc__echo", "slow__wait"]);
    await managers.splice(0)[0]?.cleanup();
    await cloud?.stop();

    const forced = await setup(true, 1, { toolsChanged: "reconnect" });
    forced.tools.change([tool("clock__now")]);
    await untilEvent(
      (wake) => cloud?.onSessionCount(wake) ?? (() => {}),
      () => sockets(1) === 2,
      10_000,
      "reopened",
    );
    await cloud?.untilTools(token(1), (h) => h?.join() === "clock__now");
    expect(forced.republished.map((e) => e.cause)).toEqual(["forced"]);
  });

  it("spends at most five republishes at once per endpoint, then publishes the latest list when the budget allows", async () => {
    const interval = 2000;
    const { tools, republished } = await setup(false, 1, { republishInterval: interval });
    for (const name of ["a", "b", "c", "d", "e"]) {
      tools.change([tool(`step__${name}`)]);
      await cloud?.untilTools(token(1), (h) => h?.join() === `step__${name}`);
    }
    tools.change([tool("step__f")]);
    tools.change([tool("step__g")]);
    await cloud?.untilTools(token(1), (h) => h?.join() === "step__g", 15_000);
    expect(republished).toHaveLength(6);
    expect(sockets(1)).toBe(7);
    // Five at once, and a sixth only once the budget had refilled by one.
    const at = republished.map((e) => e.at);
    expect((at[5] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(interval - 20);
  });

  it("holds the first tools/list while the source's tools are still on their way", async () => {
    const tools = new TestTools();
    let pending: Promise<void> | undefined;
    // The tools arrive only after the first list was asked for: the answer must have waited.
    tools.ready = () =>
      (pending ??= new Promise<void>((resolve) =>
        setTimeout(() => {
          tools.tools = [...tools.tools, tool("late__service")];
          tools.ready = () => undefined;
          resolve();
        }, 200),
      ));
    const { republished } = await setup(false, 2, {}, tools);
    expect(held(1)).toContain("late__service");
    expect(held(2)).toContain("late__service");
    expect(republished).toEqual([]);
    expect([sockets(1), sockets(2)]).toEqual([1, 1]);
  });

  it("never keeps an agent waiting past toolsWait for tools that do not come", async () => {
    const tools = new TestTools();
    tools.ready = () => new Promise(() => {});
    const started = Date.now();
    await setup(false, 1, { toolsWait: 300 }, tools);
    expect(held(1)).toEqual(["calc__add", "calc__echo", "slow__wait"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("leaves no timer or listener behind after cleanup, even mid-republish", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const { tools, manager, logger, factory } = await setup(false, 2, { relistGrace: 60_000 });
    tools.change([tool("clock__now")]);
    const session = cloud?.sessions(token(1))[0];
    await session?.until(() => session.toolsChanged === 1, 5000);
    await manager.cleanup();
    factory.dispose();
    expect(tools.listenerCount).toBe(0);
    expect(manager.listenerCount()).toBe(0);
    expect(timers()).toBeLessThanOrEqual(before);
    expect(logger.lines.join("\n")).not.toMatch(/sync-secret/);
  });
});
