export { classifyClose, classifyUpgradeStatus } from "./close-codes.js";
export {
  defaultTransportOptions,
  type XiaozhiConnectionFactory,
  XiaozhiConnectionManager,
  type XiaozhiConnectionManagerOptions,
  XiaozhiConnectionManagerSingleton,
  type XiaozhiTransportOptions,
  xiaozhiConnectionFactory,
} from "./connection-factory.js";
export {
  defaultHeartbeat,
  type HeartbeatHandle,
  type HeartbeatOptions,
  type HeartbeatTarget,
  HeartbeatWheel,
} from "./heartbeat.js";
export {
  defaultMaxResultBytes,
  type FittedResult,
  fitResult,
  minMaxResultBytes,
} from "./result-budget.js";
export { tcpProbe } from "./tcp-probe.js";
// A Xiaozhi cloud on loopback that behaves like the real side: for demos, interop checks and tests.
export { CloudSession } from "./testing/cloud-session.js";
export {
  type SimulatedCloudOptions,
  SimulatedXiaozhiCloud,
  type TokenBehavior,
} from "./testing/simulated-cloud.js";
export {
  type PublishedLink,
  type PublishSettings,
  republishBurst,
  type ToolsChangedMode,
  ToolsPublisher,
  toolListFingerprint,
  wireTool,
} from "./tools-publisher.js";
export { WebSocketTransport, type WebSocketTransportOptions } from "./websocket-transport.js";
export {
  type EndpointTransportData,
  type XiaozhiConnectionOptions,
  XiaozhiEndpointConnection,
} from "./xiaozhi-endpoint-connection.js";
