import { redisCluster } from "@xiaozhi-connect/cluster-redis";
import { silentLogger } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud, TokenSocketWatch } from "@xiaozhi-connect/transport-ws/testing";
import {
  type ClusterView,
  createXiaozhiContainer,
  registerXiaozhi,
  type XiaozhiConfig,
  XiaozhiConnectionAdapter,
} from "@xiaozhi-connect/webserver-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer, type WebServer } from "../src/web-server.js";
import { type EndpointRow, followView, type LiveView, untilView } from "./live-view.js";
import { inPage } from "./page-checks.js";
import { redisAvailable, startRedis, type TestRedis } from "./redis-server.js";
import { launchChromium } from "./run-server.js";

// Cluster mode with its instances in this process: the API, the config centre, the dashboard and
// a clean shutdown, seen from inside. The faults that need signals are in cluster.test.ts.
const leaseTtl = 2000;
const tokens = Array.from({ length: 6 }, (_, i) => `inproc-token-${i}`);

const available = redisAvailable();

describe.skipIf(!available)("cluster mode, in process", () => {
  let redis: TestRedis;
  let cloud: SimulatedXiaozhiCloud;
  let watch: TokenSocketWatch;
  const servers = new Map<string, WebServer>();
  let resourcesBefore: string[] = [];

  const config = (id: string, endpoints: readonly string[]): XiaozhiConfig => ({
    mcpEndpoint: endpoints.map((t) => cloud.endpointUrl(t)),
    cluster: { redis: redis.url, instanceId: id, leaseTtl, namespace: "inproc" },
  });
  const start = async (id: string, endpoints: readonly string[] = tokens) => {
    const server = await startWebServer({
      config: config(id, endpoints),
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
      version: "0.0.0-test",
    });
    servers.set(id, server);
    return server;
  };
  const get = async <T>(id: string, path: string): Promise<T> =>
    (await (await fetch(new URL(path, servers.get(id)?.url))).json()) as T;
  const rows = async (id: string) =>
    (await get<{ endpoints: EndpointRow[] }>(id, "/api/endpoints")).endpoints;
  const url = (id: string) => servers.get(id)?.url ?? "";
  /** Each of `ids` shows `count` endpoints, all connected and held, and the cloud sees each once. */
  const allHeld = async (ids: readonly string[], count = tokens.length) => {
    for (const id of ids) {
      await untilView(
        url(id),
        ({ endpoints }) =>
          endpoints.size === count && [...endpoints.values()].every((e) => e.connected && e.instance),
        10_000,
        `${id} showing every endpoint held`,
      );
    }
    await watch.until(() => tokens.every((t) => watch.count(t) <= 1), 10_000, "one socket per endpoint");
  };

  beforeAll(async () => {
    resourcesBefore = process.getActiveResourcesInfo();
    redis = await startRedis();
    cloud = await SimulatedXiaozhiCloud.start({ relay: false, behavior: { driver: "handshake" } });
    watch = new TokenSocketWatch(cloud);
    await start("one");
    // The second instance's file lists one other endpoint: the cluster's list wins, the file only seeds.
    await start("two", ["inproc-token-elsewhere"]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.close()));
    await cloud?.stop();
    await redis?.stop();
  });

  it("seeds the list from the first file only, and shows every endpoint on every instance", async () => {
    await allHeld(["one", "two"]);
    expect(cloud.sessions("inproc-token-elsewhere")).toHaveLength(0);
    const list = await rows("two");
    expect(new Set(list.map((e) => e.instance))).toEqual(new Set(["one", "two"]));
    const status = await get<{ endpoints: { total: number; connected: number }; cluster: ClusterView }>(
      "one",
      "/api/status",
    );
    expect(status.endpoints).toEqual({ total: tokens.length, connected: tokens.length });
    expect(status.cluster.instanceId).toBe("one");
    expect(status.cluster.redis).toBe(redis.url.replace(/\/?$/, ""));
    const { cluster } = await get<{ cluster: ClusterView }>("two", "/api/cluster");
    expect(cluster.instances.map((i) => [i.id, i.endpoints, i.self]).sort()).toEqual([
      ["one", 3, false],
      ["two", 3, true],
    ]);
  });

  it("concurrent adds of different URLs through two instances both land (compare-and-set retried)", async () => {
    const add = (id: string, token: string) =>
      fetch(new URL("/api/endpoints", servers.get(id)?.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ url: cloud.endpointUrl(token), name: token }),
      });
    const responses = await Promise.all([add("one", "inproc-extra-1"), add("two", "inproc-extra-2")]);
    expect(responses.map((r) => r.status)).toEqual([201, 201]);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { endpoint: EndpointRow }[];
    await untilView(
      url("one"),
      ({ endpoints }) =>
        endpoints.size === tokens.length + 2 && bodies.every((b) => endpoints.get(b.endpoint.id)?.connected),
      10_000,
      "both added endpoints held",
    );
    for (const { endpoint } of bodies) {
      const removed = await fetch(new URL(`/api/endpoints/${endpoint.id}`, servers.get("one")?.url), {
        method: "DELETE",
      });
      expect(removed.status).toBe(204);
    }
    const again = await fetch(new URL(`/api/endpoints/${bodies[0]?.endpoint.id}`, servers.get("two")?.url), {
      method: "DELETE",
    });
    expect(again.status).toBe(404);
    await allHeld(["one", "two"]);
  });

  it("each instance measures the tools it gives only for the endpoints it runs", async () => {
    await allHeld(["one", "two"]);
    for (const id of ["one", "two"]) {
      const runHere = async () => (await rows(id)).filter((e) => e.instance === id).map((e) => e.id);
      // Read between two looks at what runs here: an endpoint that moved meanwhile may be either way.
      const before = await runHere();
      const status = await get<{ toolBudget?: Record<string, { tools: number }> }>(id, "/api/status");
      const after = await runHere();
      const counted = Object.keys(status.toolBudget ?? {});
      // Another instance gives the rest their tools, and may serve other ones: not counted here.
      expect(counted.filter((e) => !before.includes(e) && !after.includes(e))).toEqual([]);
      expect(before.filter((e) => after.includes(e) && !counted.includes(e))).toEqual([]);
      expect(counted.length).toBeGreaterThan(0);
      expect(counted.length).toBeLessThan(tokens.length);
    }
  });

  it("a reconnect asked of any instance reaches the one holding the endpoint", async () => {
    const list = await rows("one");
    const remote = list.find((e) => e.instance === "two") as EndpointRow;
    const upgrades = () => tokens.reduce((sum, t) => sum + (cloud.upgrades.get(t) ?? 0), 0);
    const before = upgrades();
    const response = await fetch(new URL(`/api/endpoints/${remote.id}/reconnect`, servers.get("one")?.url), {
      method: "POST",
    });
    expect(response.status).toBe(202);
    // The holder's new socket is a change of that token's count: checked then, not by polling.
    await watch.until(() => upgrades() === before + 1, 10_000, "the holder reconnected");
    const unknown = await fetch(
      new URL("/api/endpoints/ep-000000000000/reconnect", servers.get("one")?.url),
      {
        method: "POST",
      },
    );
    expect(unknown.status).toBe(404);
  });

  it("the dashboard shows where each endpoint runs and an instances panel", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(servers.get("one")?.url ?? "");
      const rows = page.locator("#endpoints tr[data-instance]");
      await page.waitForFunction(
        inPage(`document.querySelectorAll("#endpoints tr[data-instance]").length === ${tokens.length}`),
      );
      const attributes = async (selector: string, name: string) => {
        const found = page.locator(selector);
        const values: (string | null)[] = [];
        for (let i = 0; i < (await found.count()); i++) values.push(await found.nth(i).getAttribute(name));
        return values;
      };
      expect((await attributes("#instances tr", "data-id")).sort()).toEqual(["one", "two"]);
      expect(new Set(await attributes("#endpoints tr[data-instance]", "data-instance"))).toEqual(
        new Set(["one", "two"]),
      );
      expect(await rows.first().textContent()).toMatch(/on (one|two)/);
      expect(await page.isVisible("#cluster-section")).toBe(true);
    } finally {
      await browser.close();
    }
  }, 30_000);

  it("initializeXiaozhiConnection in cluster mode makes its list the cluster's", async () => {
    const scope = registerXiaozhi(createXiaozhiContainer(), {
      config: { cluster: { redis: redis.url, instanceId: "embedded", leaseTtl, namespace: "embedded" } },
      cluster: redisCluster,
    });
    const adapter = scope.resolve(XiaozhiConnectionAdapter);
    try {
      await adapter.initializeXiaozhiConnection([
        cloud.endpointUrl("embedded-1"),
        cloud.endpointUrl("embedded-2"),
      ]);
      await cloud.waitForSession("embedded-1");
      await cloud.waitForSession("embedded-2");
      expect(adapter.endpoints().map((e) => (e as { instance?: string | null }).instance)).toEqual([
        "embedded",
        "embedded",
      ]);
      expect(adapter.cluster?.view().version).toBe(2);
    } finally {
      await adapter.cleanup();
    }
  });

  it("dashboards left open follow endpoints moving to a new instance and back, and show what the API shows", async () => {
    // One watcher on each instance: whichever lost endpoints to the new one, the other sees that
    // move only through the changes it is sent of endpoints run elsewhere.
    const followed = new Map(["one", "two"].map((id) => [id, followView(url(id))]));
    const shown = (list: Iterable<EndpointRow>) =>
      JSON.stringify([...list].map((e) => [e.id, e.instance, e.state, e.connected]).sort());
    /** Each watcher shows what its instance's API shows (the cluster may still settle: a few looks). */
    const agree = async (what: string) => {
      for (const [id, watcher] of followed) {
        let api = "";
        for (let look = 0; look < 5; look++) {
          api = shown(await rows(id));
          const same = ({ endpoints }: LiveView) => shown(endpoints.values()) === api;
          if (
            await watcher.until(same, 3000, what).then(
              () => true,
              () => false,
            )
          )
            break;
        }
        expect(shown(watcher.view.endpoints.values()), `${id}'s stream ${what}`).toBe(api);
      }
    };
    const everyHeld = (on: readonly string[]) => (view: LiveView) =>
      view.endpoints.size === tokens.length &&
      [...view.endpoints.values()].every((e) => e.connected && on.includes(e.instance ?? ""));
    try {
      const before = cloud.sessions();
      await start("three");
      await untilView(
        url("three"),
        (view) =>
          everyHeld(["one", "two", "three"])(view) &&
          [...view.endpoints.values()].some((e) => e.instance === "three"),
        20_000,
        "three holding its share",
      );
      await agree("with three");
      // The links handed to three were closed as such, not as endpoints removed from the list.
      const handed = before.filter((session) => session.closedWith !== undefined);
      expect(handed.length).toBeGreaterThan(0);
      expect(new Set(handed.map((session) => session.closedWith?.reason))).toEqual(
        new Set(["held by another instance"]),
      );
      await servers.get("three")?.close();
      servers.delete("three");
      for (const watcher of followed.values())
        await watcher.until(everyHeld(["one", "two"]), 20_000, "every endpoint back on one and two");
      await agree("after three left");
    } finally {
      for (const watcher of followed.values()) watcher.close();
    }
  }, 90_000);

  it("a graceful stop hands the endpoints over and leaves no timers or sockets behind", async () => {
    await servers.get("two")?.close();
    servers.delete("two");
    await untilView(
      url("one"),
      ({ endpoints }) => [...endpoints.values()].every((e) => e.instance === "one" && e.connected),
      10_000,
      "one holding all",
    );
    await servers.get("one")?.close();
    servers.delete("one");
    await cloud.stop();
    await redis.stop();
    const left = process.getActiveResourcesInfo();
    const count = (list: string[], kind: string) => list.filter((r) => r === kind).length;
    expect(count(left, "Timeout")).toBeLessThanOrEqual(count(resourcesBefore, "Timeout"));
    expect(count(left, "TCPSocketWrap")).toBeLessThanOrEqual(count(resourcesBefore, "TCPSocketWrap"));
  }, 20_000);
});
