export { CloudSession } from "./cloud-session.js";
export {
  type SimulatedCloudOptions,
  SimulatedXiaozhiCloud,
  type TokenBehavior,
} from "./simulated-cloud.js";
export { TokenSocketWatch } from "./socket-watch.js";
export { TcpRelay } from "./tcp-relay.js";
