export {
  type CustomToolConfig,
  type CustomToolTarget,
  mcpTarget,
  type PlatformsConfig,
  runCustomTool,
  supportedHandlers,
  unavailableReason,
} from "./custom-tools.js";
export {
  type CallExtras,
  McpService,
  type McpServiceOptions,
  type ServiceState,
} from "./mcp-service.js";
export {
  type CustomTools,
  customToolsService,
  type ExposedTool,
  McpServiceManager,
  type McpServiceManagerOptions,
  type PreparedServices,
  type ServiceStatus,
  type ServicesDiff,
} from "./mcp-service-manager.js";
export {
  defaultDrainLimit,
  defaultToolsHold,
  type PreparedChange,
  type ReplicaStatus,
  type ReplicatedServiceOptions,
  type ServiceSettings,
} from "./replicated-options.js";
export { ReplicatedService } from "./replicated-service.js";
export {
  defaultHandshakeTimeout,
  exposedToolName,
  isReplicated,
  type RemoteServiceConfig,
  type ReplicaConfig,
  type ReplicatedServiceConfig,
  type ServiceConfig,
  type StdioServiceConfig,
  serviceOf,
  type ToolSwitches,
  type TransportKind,
  toolEnabled,
  toolNameSeparator,
  toolTimeout,
  transportKind,
  uncallableReason,
} from "./service-config.js";
export { defaultMaxLineBytes, killServiceProcesses, resultTooLargeCode } from "./stdio-transport.js";
export { filteredConnectionFactory, type ToolFilter, toolSubset } from "./tool-subset.js";
