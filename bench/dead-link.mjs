// Dead-link detection: a link black-holed by the relay (no close, no RST, nothing) must be declared
// dead within heartbeatInterval + heartbeatTimeout. Short settings (300 + 300 ms), 7 repetitions.
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { median, ms, until } from "./lib.mjs";

const interval = 300;
const timeout = 300;

export const deadLink = {
  title: "Dead-link detection (silent black hole)",
  async run() {
    const cloud = await SimulatedXiaozhiCloud.start();
    const manager = new XiaozhiConnectionManager({
      transport: { heartbeatInterval: interval, heartbeatTimeout: timeout },
      backoff: { initialDelay: 50, maxDelay: 100 },
    });
    await manager.initialize([cloud.endpointUrl("dead")]);
    await manager.connect();
    const samples = [];
    try {
      for (let i = 0; i < 7; i++) {
        await until(() => manager.isAnyConnected(), 5000, "connected");
        // Start at a random point of the heartbeat period, as a real outage would.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * interval));
        const detected = new Promise((resolve) => {
          const stop = manager.on("disconnected", () => {
            stop();
            resolve(performance.now());
          });
        });
        const started = performance.now();
        cloud.blackhole();
        samples.push((await detected) - started);
        cloud.heal();
      }
    } finally {
      await manager.cleanup();
      await cloud.stop();
    }
    const worst = Math.max(...samples);
    return [
      {
        measure: `black hole → link declared dead (interval ${interval} + timeout ${timeout} ms), p50 of 7`,
        value: ms(median(samples)),
        yardstick: `worst ${ms(worst)}`,
        bar: `≤ ${interval + timeout} ms (worst case)`,
        pass: worst <= interval + timeout,
      },
    ];
  },
};
