import { redisCluster } from "@xiaozhi-connect/cluster-redis";
import { type Connection, type ConnectionFactory, endpointId, silentLogger } from "@xiaozhi-connect/core";
import { xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud, TcpRelay, TokenSocketWatch } from "@xiaozhi-connect/transport-ws/testing";
import {
  ConnectionFactoryToken,
  createXiaozhiContainer,
  registerXiaozhi,
  XiaozhiConnectionAdapter,
} from "@xiaozhi-connect/webserver-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisAvailable, startRedis, type TestRedis } from "./redis-server.js";

// Three instances in this process, each reaching the cloud through its own TCP relay: the path from
// one instance to the agents can be cut while it still reaches Redis, as a firewall or a cloud that
// refuses one machine would.
const leaseTtl = 2000;
const tokens = Array.from({ length: 9 }, (_, i) => `cut-token-${i}`);
const available = redisAvailable();

interface Instance {
  readonly id: string;
  readonly adapter: XiaozhiConnectionAdapter;
  readonly relay: TcpRelay;
}

describe.skipIf(!available)(
  "cluster mode: the agents cut off from one instance that still reaches Redis",
  () => {
    let redis: TestRedis;
    let cloud: SimulatedXiaozhiCloud;
    let watch: TokenSocketWatch;
    const instances: Instance[] = [];

    const start = async (id: string): Promise<Instance> => {
      const relay = await new TcpRelay(() => cloud.port).start();
      const base = xiaozhiConnectionFactory();
      // The same endpoint URLs as every instance, reached through this instance's relay.
      const routed = Object.assign(
        ((endpoint, context) =>
          base(
            { ...endpoint, url: endpoint.url?.replace(`:${cloud.port}/`, `:${relay.port}/`) },
            context,
          )) as typeof base,
        { configure: base.configure, dispose: base.dispose },
      );
      const scope = createXiaozhiContainer();
      scope.register(ConnectionFactoryToken, {
        useValue: routed as unknown as ConnectionFactory<Connection>,
      });
      registerXiaozhi(scope, {
        config: {
          mcpEndpoint: tokens.map((t) => cloud.endpointUrl(t)),
          cluster: { redis: redis.url, instanceId: id, leaseTtl, namespace: "cut" },
        },
        logger: silentLogger,
        cluster: redisCluster,
      });
      const adapter = scope.resolve(XiaozhiConnectionAdapter);
      await adapter.start();
      return { id, adapter, relay };
    };

    beforeAll(async () => {
      redis = await startRedis();
      cloud = await SimulatedXiaozhiCloud.start({ relay: false, behavior: { driver: "handshake" } });
      watch = new TokenSocketWatch(cloud);
      instances.push(...(await Promise.all(["a", "b", "c"].map(start))));
      await watch.until(() => watch.eachOnce(tokens), 15_000, "every endpoint held once");
    }, 30_000);

    afterAll(async () => {
      for (const { adapter, relay } of instances) {
        await adapter.cleanup();
        await relay.stop().catch(() => {});
      }
      watch?.dispose();
      await cloud?.stop();
      await redis?.stop();
    });

    it("its endpoints are held by the others within leaseTtl + 2 s, and stay there", async () => {
      const victim = instances.find((i) => i.adapter.localEndpoints().length > 0) as Instance;
      const held = new Set(victim.adapter.localEndpoints().map((e) => e.id));
      const cutOff = tokens.filter((t) => held.has(endpointId(cloud.endpointUrl(t))));
      expect(cutOff.length).toBeGreaterThan(0);
      // The relay goes: the victim's links drop and its reconnects are refused; Redis still answers.
      const cut = Date.now();
      await victim.relay.stop();
      await watch.until(() => cutOff.every((t) => watch.count(t) === 0), 5000, "the victim's links closed");
      await watch.until(
        () => watch.eachOnce(tokens),
        leaseTtl + 2000 - (Date.now() - cut),
        "the cut-off instance's endpoints held elsewhere",
      );
      expect(Date.now() - cut).toBeLessThanOrEqual(leaseTtl + 2000);
      expect(victim.adapter.localEndpoints()).toEqual([]);
      expect(victim.adapter.cluster?.view().reachable).toBe(true);
      // They stay with the others: the victim does not take them back while it cannot reach the agents.
      const moved = await watch
        .until(() => !watch.eachOnce(tokens), 3 * leaseTtl, "an endpoint moving again")
        .then(
          () => true,
          () => false,
        );
      expect(moved).toBe(false);
      const shown = victim.adapter.endpoints().map((e) => (e as { instance?: string | null }).instance);
      expect(shown.every((instance) => instance !== null && instance !== victim.id)).toBe(true);
      expect(watch.overlapCount()).toBe(0);
    }, 30_000);
  },
);
