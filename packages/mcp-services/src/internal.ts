/**
 * Helpers the sibling `@xiaozhi-connect/*` packages share. Outside semver: anything here may change
 * or go in any release.
 * @packageDocumentation
 */
export { describeServiceError } from "./mcp-service.js";
export { ReplicaConnection } from "./replica-connection.js";
export {
  killServiceProcesses,
  LineTooLongError,
  type ServiceStdioParameters,
  ServiceStdioTransport,
} from "./stdio-transport.js";
