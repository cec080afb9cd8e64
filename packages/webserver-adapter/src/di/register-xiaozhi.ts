import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type Connection,
  type ConnectionFactory,
  ConnectionManager,
  type Logger,
  silentLogger,
} from "@xiaozhi-connect/core";
import { healthScorer } from "@xiaozhi-connect/health";
import { filteredConnectionFactory, McpServiceManager } from "@xiaozhi-connect/mcp-services";
import { xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import {
  container,
  type DependencyContainer,
  type InjectionToken,
  instanceCachingFactory,
  Lifecycle,
} from "tsyringe";
import { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import { type ClusterFactory, clusterMissing, describeEntries } from "../cluster.js";
import type { ConfigFile } from "../config/config-file.js";
import { endpointEntries } from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";
import { serviceEnvironment } from "../config/service-environment.js";
import {
  ClockToken,
  ClusterToken,
  ConfigFileToken,
  ConfigToken,
  ConnectionFactoryToken,
  ConnectionManagerToken,
  HealthScorerToken,
  LoggerToken,
  StrategyRegistryToken,
  StrategyToken,
  ToolSourceToken,
} from "./tokens.js";

export interface RegisterXiaozhiOptions {
  /** The config to start with; with `configFile`, defaults to the file's loaded config. */
  readonly config?: XiaozhiConfig;
  /** A loaded config file: followed for hot reload and written by add/remove. */
  readonly configFile?: ConfigFile;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Server name announced to the Xiaozhi side. */
  readonly serverInfo?: { readonly name: string; readonly version: string };
  /**
   * Cluster mode's implementation, used when the config has a `cluster` block: `redisCluster` from
   * `@xiaozhi-connect/cluster-redis`. Without it such a config fails with `INVALID_CONFIG`.
   */
  readonly cluster?: ClusterFactory;
}

/**
 * The composition root: registers every seam of xiaozhi-connect on `container`. A token that is
 * already registered (by a third party, before this call) is left alone, and registering a token
 * afterwards overrides the default too, since everything is resolved lazily on first use.
 */
export function registerXiaozhi(
  container: DependencyContainer,
  options: RegisterXiaozhiOptions = {},
): DependencyContainer {
  const config = options.config ?? options.configFile?.config ?? {};
  const value = <T>(token: InjectionToken<T>, useValue: T) => {
    if (!container.isRegistered(token)) container.register(token, { useValue });
  };
  const factory = <T>(token: InjectionToken<T>, make: (c: DependencyContainer) => T) => {
    if (!container.isRegistered(token)) {
      container.register(token, { useFactory: instanceCachingFactory(make) });
    }
  };

  value(ConfigToken, config);
  // tsyringe does not take `null` as a value; a factory may return it.
  factory(ConfigFileToken, () => options.configFile ?? null);
  value(LoggerToken, options.logger ?? silentLogger);
  value(ClockToken, options.now ?? Date.now);
  // Cluster mode only with a `cluster` block; its package (and Redis client) only for those who use it.
  factory(ClusterToken, (c) => {
    if (!config.cluster) return null;
    if (!options.cluster) throw clusterMissing();
    return options.cluster(config.cluster, {
      logger: c.resolve(LoggerToken),
      seed: endpointEntries(config.mcpEndpoint),
      describe: describeEntries,
    });
  });
  factory(StrategyRegistryToken, () => StrategyRegistry.withBuiltins());
  // Everything starts from defaults; the adapter applies the config on its one path (validated
  // first, all or nothing), at start as on every reload.
  factory(StrategyToken, (c) => c.resolve(StrategyRegistryToken).create("round-robin"));
  factory(HealthScorerToken, (c) => healthScorer({}, c.resolve(ClockToken)));
  factory(
    ConnectionFactoryToken,
    () =>
      xiaozhiConnectionFactory(
        options.serverInfo ? { serverInfo: options.serverInfo } : {},
      ) as unknown as ConnectionFactory<Connection>,
  );
  factory(
    ToolSourceToken,
    (c) =>
      new McpServiceManager(
        {},
        {
          logger: c.resolve(LoggerToken),
          strategies: c.resolve(StrategyRegistryToken),
          // Read at each start: the references follow the file as it changes.
          environment: () => serviceEnvironment(process.env, c.resolve(ConfigFileToken)?.references ?? []),
        },
      ),
  );
  factory(
    ConnectionManagerToken,
    (c) =>
      new ConnectionManager<Connection>({
        // Per-endpoint tool subsets (`{url, services?, tools?}`) apply to any factory, a third party's too.
        connectionFactory: filteredConnectionFactory(c.resolve(ConnectionFactoryToken)),
        strategy: c.resolve(StrategyToken),
        healthScorer: c.resolve(HealthScorerToken),
        logger: c.resolve(LoggerToken),
        now: c.resolve(ClockToken),
      }),
  );
  if (!container.isRegistered(XiaozhiConnectionAdapter)) {
    container.register(
      XiaozhiConnectionAdapter,
      { useClass: XiaozhiConnectionAdapter },
      { lifecycle: Lifecycle.Singleton },
    );
  }
  return container;
}

/**
 * A fresh child of the tsyringe root container this package decorates its classes with. Use it
 * (rather than a `container` imported from tsyringe yourself) when an install may hold two copies
 * of tsyringe: a class registered in one copy is unknown to the other.
 */
export function createXiaozhiContainer(): DependencyContainer {
  return container.createChildContainer();
}

/** Registered seams, for a test that resolves every registration. */
export const xiaozhiTokens = [
  ConfigToken,
  ConfigFileToken,
  LoggerToken,
  ClockToken,
  StrategyRegistryToken,
  StrategyToken,
  HealthScorerToken,
  ConnectionFactoryToken,
  ToolSourceToken,
  ConnectionManagerToken,
  ClusterToken,
] as const;
