import { appendFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { faultRun } from "./fault-run.js";
import { redisAvailable } from "./redis-server.js";

// Randomised faults against three real processes, a few seeds for a few seconds each. The same
// run, longer and with more seeds, is `node scripts/cluster-faults.mjs` (XZ_FAULT_SECONDS,
// XZ_FAULT_SEEDS); XZ_FAULT_REPORT names a file that gets each run's figures as a JSON line.
const seeds = (process.env.XZ_FAULT_SEEDS ?? "11,12,13").split(",").map(Number);
const seconds = Number(process.env.XZ_FAULT_SECONDS ?? 15);
const report = process.env.XZ_FAULT_REPORT;
const available = redisAvailable();

describe.skipIf(!available)("cluster mode under randomised faults", () => {
  it.each(seeds)(
    "seed %i: no change lost, nothing resurrected, no endpoint held twice or left unheld, every call answered once",
    async (seed) => {
      const result = await faultRun({
        seed,
        seconds,
        ...(report ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      });
      if (report) appendFileSync(report, `${JSON.stringify(result)}\n`);
      expect(result.violations).toEqual([]);
      expect(result.faults.length).toBeGreaterThan(0);
      expect(result.calls.answered).toBeGreaterThan(0);
      expect(result.changes.done).toBeGreaterThan(0);
    },
    (seconds + 150) * 1000,
  );
});
