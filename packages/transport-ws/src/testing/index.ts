export {
  CloudSession,
  type SimulatedCloudOptions,
  SimulatedXiaozhiCloud,
  type TokenBehavior,
} from "./simulated-cloud.js";
export { TcpRelay } from "./tcp-relay.js";
