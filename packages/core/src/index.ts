export { raceAbort } from "./abort.js";
export { type BackoffOptions, backoffCeiling, backoffDelay, defaultBackoff } from "./backoff.js";
export type {
  CloseInfo,
  Connection,
  ConnectionContext,
  ConnectionEventMap,
  ConnectionFactory,
  ConnectionState,
} from "./connection.js";
export {
  type BroadcastResult,
  ConnectionManager,
  type ConnectionManagerOptions,
  type ConnectionOperation,
  type DispatchOptions,
  defaultManagerSettings,
  type EndpointEvent,
  type EndpointStatus,
  type ManagerEventMap,
  type ManagerSettings,
  type ReconcileResult,
} from "./connection-manager.js";
export { Emitter, type Listener, type Subscribable } from "./emitter.js";
export {
  connectionShapeChanged,
  type EndpointDescriptor,
  type EndpointInput,
  type ResolvedEndpoint,
  resolveEndpoint,
} from "./endpoint.js";
export {
  ConnectError,
  type ConnectErrorOptions,
  describeError,
  type ErrorCode,
  neverReached,
} from "./errors.js";
export type { HealthObservation, HealthReport, HealthScorer } from "./health.js";
export { type LogFn, type Logger, silentLogger } from "./logger.js";
export { endpointId, fingerprint, maskEndpoint, normalizeEndpointUrl, redact } from "./mask.js";
export {
  ConnectionManagerSingleton,
  createConnectionManagerSingleton,
  type SingletonStatus,
} from "./singleton.js";
export { type Candidate, roundRobin, type SelectContext, type Strategy } from "./strategy.js";
export {
  emptyToolSource,
  serviceOf,
  type ToolCallOptions,
  type ToolCallResult,
  type ToolDescriptor,
  type ToolSource,
  toolNameSeparator,
} from "./tool-source.js";
export { ToolSourceSwitch } from "./tool-source-switch.js";
export { toolSubset } from "./tool-subset.js";
