export { type BackoffOptions, backoffCeiling, backoffDelay, defaultBackoff } from "./backoff.js";
export type {
  CloseInfo,
  Connection,
  ConnectionContext,
  ConnectionEventMap,
  ConnectionFactory,
  ConnectionState,
  RepublishCause,
} from "./connection.js";
export { connectionStates } from "./connection.js";
export {
  ConnectionManager,
  type ConnectionManagerOptions,
  type EndpointEvent,
  type EndpointStatus,
  type ManagerEventMap,
  type ReconcileResult,
} from "./connection-manager.js";
export type { BroadcastResult, ConnectionOperation, DispatchOptions } from "./dispatcher.js";
export { Emitter, type Listener, type Observer, type Subscribable } from "./emitter.js";
export {
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
  XiaozhiError,
  type XiaozhiErrorOptions,
} from "./errors.js";
export type { HealthObservation, HealthReport, HealthScorer } from "./health.js";
export { type LogFn, type Logger, silentLogger } from "./logger.js";
export type { ListApplied } from "./manager-events.js";
export { endpointId, fingerprint, maskEndpoint, normalizeEndpointUrl, redact } from "./mask.js";
export { checkOption, msRule, type OptionRule, positiveMsRule, shownValue } from "./option-rules.js";
export { defaultManagerSettings, type ManagerSettings, type SettingsChange } from "./settings.js";
export {
  ConnectionManagerSingleton,
  createConnectionManagerSingleton,
  type SingletonStatus,
} from "./singleton.js";
export { type Candidate, roundRobin, type SelectContext, type Strategy } from "./strategy.js";
export {
  callerMetaKey,
  emptyToolSource,
  type ToolCaller,
  type ToolCallOptions,
  type ToolCallResult,
  type ToolDescriptor,
  type ToolProgress,
  type ToolSource,
} from "./tool-source.js";
