// Soak: 100 endpoints through 30,000 drop-and-reconnect cycles (300 whole-cloud drops) and 300,000
// tool calls, in a provider process of its own. A leak shows where the process has settled: over the
// second half of the run heap and RSS after GC must grow by at most 0.5 MiB each (read from a line
// through readings at every twentieth of the run, the end minus the middle beside it), and the active
// handles, timers and listeners must be back at their starting counts; the whole run's growth (the
// warm-up's high-water marks included) is shown beside them. Takes minutes, so `pnpm bench` runs
// it only when named: `pnpm bench soak`.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { launcherEnv, launcherFlags } from "./lib.mjs";

const child = fileURLToPath(new URL("./soak-child.mjs", import.meta.url));
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

export const soak = {
  title: "Soak: 100 endpoints, 30,000 drop-and-reconnect cycles, 300,000 tool calls (as start -d runs it)",
  onlyWhenNamed: true,
  async run() {
    // Run as `start -d` runs the server (the launcher's V8 flags, its environment), so young-generation
    // growth and the C allocator keeping what it could give back are not read as a leak.
    const flags = [...launcherFlags, "--expose-gc"];
    const out = execFileSync(process.execPath, [...flags, child, "100", "300", "300000"], {
      env: launcherEnv,
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
        bar: "30,000 cycles, 300,000 calls, 0 failed",
        pass: r.dropped >= 30_000 && r.called.ok >= 300_000 && r.called.failed === 0,
      },
      {
        measure: `heap growth after GC over the second half (a line through ${r.secondHalfReadings} readings)`,
        value: mib(r.heapTrendSecondHalf),
        yardstick: `end − middle ${mib(r.heapGrowthSecondHalf)}; whole run ${mib(r.heapGrowth)}`,
        bar: "≤ 0.5 MiB",
        pass: r.heapTrendSecondHalf <= 0.5 * 1024 * 1024,
      },
      {
        measure: `RSS growth after GC over the second half (a line through ${r.secondHalfReadings} readings)`,
        value: mib(r.rssTrendSecondHalf),
        yardstick: `readings ${r.rssSecondHalfRange.map(mib).join(" to ")}; end − middle ${mib(r.rssGrowthSecondHalf)}; whole run ${mib(r.rssGrowth)}, of which V8's reserved heap ${mib(r.heapReservedGrowth)}, Buffers ${mib(r.externalGrowth)}`,
        bar: "≤ 0.5 MiB",
        pass: r.rssTrendSecondHalf <= 0.5 * 1024 * 1024,
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
