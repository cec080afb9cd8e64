// tsyringe needs the Reflect metadata polyfill before it loads; importing it here spares every user.
import "reflect-metadata";

export {
  type ClusterConfig,
  type ClusterCoordinator,
  type ClusterEndpointStatus,
  type ClusterEventMap,
  type ClusterFactory,
  type ClusterFactoryOptions,
  type ClusterHost,
  type ClusterInstance,
  type ClusterUpdateOptions,
  type ClusterView,
  describeEntries,
  type ListedEndpoint,
} from "./cluster.js";
export {
  addEndpointEntry,
  agentNameOf,
  type ConnectionConfig,
  connectionDefaults,
  customToolsOf,
  endpointEntries,
  endpointToAdd,
  entryIdOf,
  isModelScopeHost,
  managerSettingsOf,
  maxEndpointUrlLength,
  parseConfig,
  parseConfigText,
  relativeToConfig,
  removeEndpointEntry,
  removeServiceEntry,
  type SkippedEndpoint,
  selectEndpoints,
  serviceEntries,
  servicesOf,
  serviceToWrite,
  setServiceEntry,
  setToolSwitch,
  toolSwitchesOf,
  transportOptionsOf,
  whyInvalid,
  withConnectionDefaults,
  type XiaozhiConfig,
  xiaozhiConfigSchema,
} from "./config.js";
export { ConfigFile, type ConfigFileOptions, type ConfigStatus } from "./config-file.js";
export { type ConfigFormat, editText, formatOf, parseText } from "./config-text.js";
export {
  ActivityHistory,
  type CallRecord,
  type EndpointHistory,
  type HistoryBounds,
  type HistoryOptions,
  type HistoryPeriod,
  type HistoryPoint,
  type HistorySnapshot,
  type ToolStats,
} from "./history.js";
export { type CreateLoggerOptions, createLogger } from "./logger.js";
export { createMetrics } from "./metrics.js";
export {
  createXiaozhiContainer,
  type RegisterXiaozhiOptions,
  registerXiaozhi,
  xiaozhiTokens,
} from "./register-xiaozhi.js";
export {
  createXiaozhiRoutes,
  defaultMaxBodyBytes,
  type HostGuardOptions,
  hostGuard,
  jsonMethodNotAllowed,
  notFound,
  type XiaozhiRoutesOptions,
} from "./routes.js";
export {
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
export {
  type AdapterEventMap,
  type AdapterStatus,
  type ServiceConfigView,
  type ServiceInfo,
  type ToolInfo,
  XiaozhiConnectionAdapter,
} from "./xiaozhi-connection-adapter.js";
