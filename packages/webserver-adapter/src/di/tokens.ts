import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import type {
  Connection,
  ConnectionFactory,
  ConnectionManager,
  HealthScorer,
  Logger,
  Strategy,
  ToolSource,
} from "@xiaozhi-connect/core";
import type { InjectionToken } from "tsyringe";
import type { ClusterCoordinator } from "../cluster.js";
import type { ConfigFile } from "../config/config-file.js";
import type { XiaozhiConfig } from "../config/schema.js";

/** Builds the connection of each endpoint; default: Xiaozhi over WebSocket. */
export const ConnectionFactoryToken: InjectionToken<ConnectionFactory<Connection>> = Symbol.for(
  "xiaozhi-connect.ConnectionFactory",
);
/** Picks the endpoint of outbound operations; default from `connection.loadBalanceStrategy`. */
export const StrategyToken: InjectionToken<Strategy> = Symbol.for("xiaozhi-connect.Strategy");
/** Strategies by name, for config; default the built-ins. Register yours on it. */
export const StrategyRegistryToken: InjectionToken<StrategyRegistry> = Symbol.for(
  "xiaozhi-connect.StrategyRegistry",
);
/** Scores endpoints and ejects outliers; default `healthScorer()`. */
export const HealthScorerToken: InjectionToken<HealthScorer> = Symbol.for("xiaozhi-connect.HealthScorer");
/** The tools every endpoint serves; default an `McpServiceManager` over `mcpServers`. */
export const ToolSourceToken: InjectionToken<ToolSource> = Symbol.for("xiaozhi-connect.ToolSource");
export const LoggerToken: InjectionToken<Logger> = Symbol.for("xiaozhi-connect.Logger");
/** The config at start (from the file when there is one). */
export const ConfigToken: InjectionToken<XiaozhiConfig> = Symbol.for("xiaozhi-connect.Config");
/** The config file, when the config came from one; `null` otherwise. */
export const ConfigFileToken: InjectionToken<ConfigFile | null> = Symbol.for("xiaozhi-connect.ConfigFile");
/** Epoch-ms clock. */
export const ClockToken: InjectionToken<() => number> = Symbol.for("xiaozhi-connect.Clock");
/** The one ConnectionManager of the process. */
export const ConnectionManagerToken: InjectionToken<ConnectionManager<Connection>> = Symbol.for(
  "xiaozhi-connect.ConnectionManager",
);
/** Cluster mode's coordinator when the config has a `cluster` block; `null` otherwise. */
export const ClusterToken: InjectionToken<ClusterCoordinator | null> = Symbol.for("xiaozhi-connect.Cluster");
