import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ClusterFactory } from "@xiaozhi-connect/webserver-adapter";
import { maskRedisUrl } from "./cluster-view.js";
import { RedisClusterCoordinator } from "./coordinator.js";
import { defaultLeaseTtl } from "./coordinator-options.js";
import { redisStores } from "./redis-stores.js";

/**
 * Cluster mode over Redis, for `registerXiaozhi(container, { config, cluster: redisCluster })`:
 * builds the coordinator of a config's `cluster` block. The Redis client is loaded when the
 * coordinator starts.
 */
export const redisCluster: ClusterFactory = (config, options) => {
  const leaseTtl = config.leaseTtl ?? defaultLeaseTtl;
  // Redis answers in well under a millisecond; one that does not within a second is out of
  // reach, and a stop waiting on it stays well inside the 5 s shutdown.
  const commandTimeout = Math.max(300, Math.min(1000, Math.round(leaseTtl / 5)));
  return new RedisClusterCoordinator({
    stores: () =>
      redisStores({
        url: config.redis,
        prefix: `${config.namespace ?? "xiaozhi-connect"}:`,
        commandTimeout,
        onError: (message) => options.logger.debug({ err: message }, "redis"),
      }),
    logger: options.logger,
    seed: options.seed,
    describe: options.describe,
    redis: maskRedisUrl(config.redis),
    instanceId: config.instanceId ?? defaultInstanceId(),
    leaseTtl,
  });
};

/**
 * The instance id used when the config names none: `<host>-<pid>-<4 hex digits>`. The random part
 * keeps containers apart that share a host name and all run as pid 1.
 */
export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`.replace(/[^A-Za-z0-9._:-]/g, "-");
}
