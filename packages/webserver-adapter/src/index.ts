// tsyringe needs the Reflect metadata polyfill before it loads; importing it here spares every user.
import "reflect-metadata";

export {
  type McpClientInfo,
  type McpClientLimits,
  newClientToken,
} from "./adapter/client-admin.js";
export type { AdapterEventMap } from "./adapter/event-feed.js";
export { defaultMaxTools, type ToolBudget } from "./adapter/tool-budget.js";
export type { AdapterStatus, ServiceConfigView, ServiceInfo, ToolInfo } from "./adapter/views.js";
export { XiaozhiConnectionAdapter } from "./adapter/xiaozhi-connection-adapter.js";
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
export { type McpClientConfig, mcpClientSchema } from "./config/clients.js";
export { editText } from "./config/config-edit.js";
export {
  type ConfigDraft,
  ConfigFile,
  type ConfigFileOptions,
  type ConfigRead,
  type ConfigStatus,
  type StartOnlyBlock,
} from "./config/config-file.js";
export { type ConfigFormat, formatOf, parseText } from "./config/config-text.js";
export {
  addEndpointEntry,
  agentNameOf,
  endpointEntries,
  endpointToAdd,
  entryIdOf,
  maxEndpointUrlLength,
  removeEndpointEntry,
  type SkippedEndpoint,
  selectEndpoints,
  whyInvalid,
} from "./config/endpoints.js";
export {
  type EnvReference,
  envReferences,
  resolveEnvRefs,
  resolveEnvString,
} from "./config/env-refs.js";
export {
  type ConnectionConfig,
  parseConfig,
  parseConfigText,
  type UnknownField,
  unknownFields,
  type XiaozhiConfig,
  xiaozhiConfigSchema,
} from "./config/schema.js";
export {
  customToolsOf,
  isModelScopeHost,
  relativeToConfig,
  removeServiceEntry,
  serviceEntries,
  servicesOf,
  serviceToWrite,
  setCustomToolSwitch,
  setServiceEntry,
  setToolSwitch,
  toolSwitchesOf,
} from "./config/services.js";
export {
  connectionDefaults,
  managerSettingsOf,
  transportOptionsOf,
  withConnectionDefaults,
} from "./config/settings.js";
export {
  createXiaozhiContainer,
  type RegisterXiaozhiOptions,
  registerXiaozhi,
  xiaozhiTokens,
} from "./di/register-xiaozhi.js";
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
} from "./di/tokens.js";
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
} from "./history/activity-history.js";
export {
  type AuditActor,
  type AuditChange,
  type AuditEntry,
  AuditTrail,
  type AuditTrailOptions,
  describeConfigChange,
} from "./history/audit-trail.js";
export {
  CallLog,
  type CallLogEntry,
  type CallLogOptions,
  type CallLogState,
  maxCallLogMinutes,
} from "./history/call-log.js";
export {
  type Caller,
  HttpAuth,
  type HttpAuthOptions,
  hashPassword,
  sessionCookie,
  verifyPassword,
} from "./http/auth.js";
export {
  type EndpointQuery,
  type EndpointSummary,
  type ListedStatus,
  maxPageSize,
  pageEndpoints,
  parseEndpointQuery,
  summarize,
} from "./http/endpoint-page.js";
export { McpClientRoute, mcpMaxBodyBytes } from "./http/mcp-clients.js";
export { createMetrics } from "./http/metrics.js";
export {
  createXiaozhiRoutes,
  defaultMaxBodyBytes,
  type HostGuardOptions,
  hostGuard,
  jsonMethodNotAllowed,
  notFound,
  type XiaozhiRoutesOptions,
} from "./http/routes.js";
export { type CreateLoggerOptions, createLogger } from "./logger.js";
