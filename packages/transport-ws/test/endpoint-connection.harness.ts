/**
 * The setting of the endpoint-connection.*.test.ts files: a fresh simulated cloud, tool source and
 * logger per test, managers started against it, and every manager cleaned up after the test.
 */
import { afterEach, beforeEach, expect } from "vitest";
import {
  XiaozhiConnectionManager,
  type XiaozhiConnectionManagerOptions,
  xiaozhiConnectionFactory,
} from "../src/index.js";
import { SimulatedXiaozhiCloud } from "../src/testing/index.js";
import { captureLogger, TestTools } from "./helpers.js";

export const token = (n: number) => `tok-secret-${n}-eyJhbGciOiJIUzI1NiJ9`;

export let cloud: SimulatedXiaozhiCloud;
export let tools: TestTools;
let logger: ReturnType<typeof captureLogger>;
const managers: XiaozhiConnectionManager[] = [];

/** Registers the per-test setup and teardown; call it once at the top of a test file. */
export function useSimulatedCloud() {
  beforeEach(async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    tools = new TestTools();
    logger = captureLogger();
  });

  afterEach(async () => {
    for (const manager of managers.splice(0)) await manager.cleanup();
    await cloud.stop();
    // No test may leak a token into the logs it produced.
    expect(logger.lines.join("\n")).not.toMatch(/tok-secret/);
  });
}

export function start(tokens: number[], options: XiaozhiConnectionManagerOptions = {}) {
  const factory = xiaozhiConnectionFactory({
    heartbeatInterval: 5000,
    heartbeatTimeout: 5000,
    ...options.transport,
  });
  const manager = new XiaozhiConnectionManager({
    connectionFactory: factory,
    logger,
    backoff: { initialDelay: 50, maxDelay: 200 },
    // The product's 10 s: a connect (upgrade and initialize against the cloud in this process) that
    // a loaded machine slows past 2 s must not count as failed where a test asserts it connected.
    connectTimeout: 10_000,
    ...options,
  });
  managers.push(manager);
  const ready = manager.initialize(
    tokens.map((n) => cloud.endpointUrl(token(n))),
    tools,
  );
  return { manager, factory, ready: ready.then(() => manager.connect()) };
}
