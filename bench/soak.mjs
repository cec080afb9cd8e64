// Soak: 100 endpoints through 10,000 drop-and-reconnect cycles (100 whole-cloud drops) and 100,000
// tool calls, in a provider process of its own. After GC, heap and RSS must grow by at most 2 MiB,
// and the active handles, timers and listeners must be back at their starting counts. Takes
// minutes, so `pnpm bench` runs it only when named: `pnpm bench soak`.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./soak-child.mjs", import.meta.url));
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

export const soak = {
  title: "Soak: 100 endpoints, 10,000 drop-and-reconnect cycles, 100,000 tool calls (launcher's V8 flags)",
  onlyWhenNamed: true,
  async run() {
    // Run as the launcher runs the server (its V8 flags), so young-generation growth is not read as a leak.
    const flags = ["--max-semi-space-size=1", "--expose-gc"];
    const out = execFileSync(process.execPath, [...flags, child, "100", "100", "100000"], {
      encoding: "utf8",
      timeout: 30 * 60_000,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const r = JSON.parse(out.trim().split("\n").at(-1));
    const same = JSON.stringify(r.start) === JSON.stringify(r.end);
    return [
      {
        measure: "work done",
        value: `${r.dropped} drops and reconnects, ${r.called.ok} calls answered (${r.called.failed} failed) in ${r.seconds.toFixed(0)} s`,
        bar: "10,000 cycles, 100,000 calls, 0 failed",
        pass: r.dropped >= 10_000 && r.called.ok >= 100_000 && r.called.failed === 0,
      },
      {
        measure: "heap growth after GC",
        value: mib(r.heapGrowth),
        bar: "≤ 2 MiB",
        pass: r.heapGrowth <= 2 * 1024 * 1024,
      },
      {
        measure: "RSS growth after GC",
        value: mib(r.rssGrowth),
        yardstick: `of which V8's reserved heap ${mib(r.heapReservedGrowth)}, Buffers ${mib(r.externalGrowth)}`,
        bar: "≤ 2 MiB",
        pass: r.rssGrowth <= 2 * 1024 * 1024,
      },
      {
        measure: "heap / RSS growth over the second half only (a leak grows in both halves)",
        value: `${mib(r.heapGrowthSecondHalf)} / ${mib(r.rssGrowthSecondHalf)}`,
      },
      {
        measure: "active handles, timers and listeners: start → end",
        value: `${JSON.stringify(r.end)}`,
        yardstick: `start ${JSON.stringify(r.start)}`,
        bar: "back at the start",
        pass: same,
      },
    ];
  },
};
