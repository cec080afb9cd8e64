// Randomised fault runs of cluster mode, longer than the suite's: three WebServers as processes,
// one redis-server, 30 endpoints, agents calling a tool and changes of the list through the API,
// while SIGKILL, SIGTERM, SIGSTOP, partitions from Redis, a slow path, Redis restarting empty and
// CLIENT PAUSE come at random. Each run then heals everything and checks every promise of the
// README's cluster section. Needs a build (`pnpm build`) and redis-server.
//
//   node scripts/cluster-faults.mjs [seconds=150] [seeds=1,2,3]
//
// Prints one line per seed; exits 1 when a run broke a promise.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const seconds = Number(process.argv[2] ?? 150);
const seeds = process.argv[3] ?? "1,2,3";
const report = join(tmpdir(), `xz-cluster-faults-${process.pid}.jsonl`);
if (!existsSync(join(root, "apps/webserver/dist/main.js"))) {
  console.error("build first: npx pnpm build");
  process.exit(2);
}
const run = spawnSync(
  process.execPath,
  [join(root, "node_modules/vitest/vitest.mjs"), "run", "apps/webserver/test/cluster-faults.test.ts"],
  {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      XZ_FAULT_SECONDS: String(seconds),
      XZ_FAULT_SEEDS: seeds,
      XZ_FAULT_REPORT: report,
    },
  },
);
const results = existsSync(report)
  ? readFileSync(report, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];
console.log(
  `\nCluster fault runs: ${seconds} s of faults per seed, 3 instances, 30 endpoints, leaseTtl 3 s\n`,
);
for (const r of results) {
  const kinds = {};
  for (const f of r.faults) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
  const c = r.calls;
  console.log(
    [
      `seed ${r.seed}: ${r.violations.length === 0 ? "kept every promise" : `BROKE ${r.violations.length}`}`,
      `  faults: ${Object.entries(kinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
      `  list changes: ${r.changes.done} done (${r.changes.atRisk} of them known only to Redis and to instances that did not outlive its restart), ${r.changes.refused} refused (503), ${r.changes.unknown} unknown (504 or no answer)`,
      `  tool calls: ${c.sent} sent, ${c.answered} answered (${c.failed} with an error), ${c.cut} cut by a closing socket, ${c.lost} lost, ${c.doubled} answered twice`,
      `  views agreed ${r.agreedAfterMs} ms after the last fault was healed`,
      ...r.violations.map((v) => `  ✗ ${v}`),
    ].join("\n"),
  );
}
process.exit(run.status === 0 && results.length > 0 ? 0 : 1);
