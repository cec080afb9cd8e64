export { McpService, type McpServiceOptions, type ServiceState } from "./mcp-service.js";
export {
  type ExposedTool,
  McpServiceManager,
  type McpServiceManagerOptions,
  type ServiceStatus,
} from "./mcp-service-manager.js";
export {
  exposedToolName,
  type RemoteServiceConfig,
  type ServiceConfig,
  type StdioServiceConfig,
  type ToolSwitches,
  type TransportKind,
  toolEnabled,
  toolNameSeparator,
  transportKind,
} from "./service-config.js";
