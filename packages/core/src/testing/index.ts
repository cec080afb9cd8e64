export { type MemoryBehavior, MemoryConnection, MemoryNetwork } from "./memory-connection.js";
export { seededRandom } from "./seeded-random.js";
export { until } from "./until.js";
export { type ChangeSubscription, untilEvent } from "./until-event.js";
