export { healthBased, leastInflight, random, roundRobin } from "./strategies.js";
export { type StrategyFactory, StrategyRegistry } from "./strategy-registry.js";
