import { createServer, type Server } from "node:net";
import { resolveEndpoint } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { tcpProbe, XiaozhiConnectionManager } from "../src/index.js";
import { SimulatedXiaozhiCloud } from "../src/testing/index.js";
import { captureLogger, eventsOf, TestTools, untilEvent } from "./helpers.js";

const token = (n: number) => `tok-secret-${n}-eyJhbGciOiJIUzI1NiJ9`;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

describe("tcpProbe", () => {
  it("resolves when the host accepts, rejects when it refuses or the signal aborts", async () => {
    const { server, port } = await listening();
    const endpoint = (p: number) => resolveEndpoint(`ws://127.0.0.1:${p}/mcp/?token=${token(1)}`);
    await expect(tcpProbe(endpoint(port), new AbortController().signal)).resolves.toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
    await expect(tcpProbe(endpoint(port), new AbortController().signal)).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    const aborted = new AbortController();
    aborted.abort(new Error("gave up"));
    await expect(tcpProbe(endpoint(port), aborted.signal)).rejects.toThrow("gave up");
  });
});

describe("a host back from an outage", () => {
  it("gets its endpoints back when the probe answers, not after their grown backoff", async () => {
    // No relay: the endpoints' port is the cloud's own, refused while it is down.
    const cloud = await SimulatedXiaozhiCloud.start({ relay: false });
    closers.push(() => cloud.stop());
    const logger = captureLogger();
    const manager = new XiaozhiConnectionManager({
      logger,
      // Every retry waits its full ceiling of 30 s: only the probe can bring them back sooner.
      backoff: { initialDelay: 30_000, maxDelay: 30_000 },
      random: () => 0.999,
      connectTimeout: 10_000,
      transport: { heartbeatInterval: 60_000 },
    });
    closers.push(() => manager.cleanup());
    const urls = [1, 2, 3].map((n) => cloud.endpointUrl(token(n)));
    await manager.initialize(urls, new TestTools());
    await manager.connect();
    const states = eventsOf(manager, "stateChanged");
    const waiting = untilEvent(
      states,
      () => manager.getConnectionStatus().every((s) => s.state === "reconnecting"),
      10_000,
      "all waiting",
    );
    const back = cloud.restart({ downtimeMs: 700 });
    await waiting;
    const due = Math.min(...manager.getConnectionStatus().map((s) => s.nextReconnectAt ?? 0));
    expect(due - Date.now()).toBeGreaterThan(20_000);
    await back;
    await untilEvent(
      states,
      () => manager.getConnectionStatus().every((s) => s.connected),
      15_000,
      "all back before their backoff",
    );
    expect(Date.now()).toBeLessThan(due);
    expect(logger.lines.join("\n")).not.toMatch(/tok-secret/);
  });
});
