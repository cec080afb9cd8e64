// pnpm bench: measures xiaozhi-connect against the bars of its design, each figure beside a
// yardstick measured in the same run on the same machine. Prints a table and writes
// bench/results.json and bench/results.md. Exits non-zero only on errors, never on a missed bar.
// First, so that every section makes its temporary files under the run's own directory.
import "./temp-dir.mjs";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { callCpu } from "./call-cpu.mjs";
import { cluster } from "./cluster.mjs";
import { clusterScale } from "./cluster-scale.mjs";
import { dashboard } from "./dashboard.mjs";
import { deadLink } from "./dead-link.mjs";
import { failover } from "./failover.mjs";
import { mcpRoute } from "./mcp-route.mjs";
import { memory } from "./memory.mjs";
import { reconnectSpread } from "./reconnect-spread.mjs";
import { recovery } from "./recovery.mjs";
import { scale } from "./scale.mjs";
import { soak } from "./soak.mjs";
import { startup } from "./startup.mjs";
import { strategyPick } from "./strategy-pick.mjs";
import { toolCall } from "./tool-call.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const all = [
  startup,
  memory,
  toolCall,
  callCpu,
  mcpRoute,
  failover,
  deadLink,
  strategyPick,
  reconnectSpread,
  recovery,
  dashboard,
  cluster,
  soak,
  scale,
  clusterScale,
];
// `node bench/run.mjs failover dead-link` runs only the sections whose titles match; sections that
// take minutes (soak) run only when named. The results of sections not run are kept from the last
// run that had them, with their own date, so the files always hold the whole table.
const only = process.argv.slice(2).map((a) => a.toLowerCase());
const sections = only.length
  ? all.filter((s) => only.some((o) => s.title.toLowerCase().includes(o)))
  : all.filter((s) => !s.onlyWhenNamed);
const results = [];
let errors = 0;
for (const section of sections) {
  process.stdout.write(`running ${section.title} …\n`);
  try {
    results.push({ title: section.title, rows: await section.run() });
  } catch (error) {
    errors++;
    process.stderr.write(`${section.title} failed: ${error?.stack ?? error}\n`);
    results.push({
      title: section.title,
      rows: [{ measure: "error", value: String(error?.message ?? error) }],
    });
  }
}

const machine = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: (await import("node:os")).cpus().length,
};
const stamp = new Date().toISOString();
for (const result of results) result.stamp = stamp;
const previous = existsSync(join(here, "results.json"))
  ? JSON.parse(readFileSync(join(here, "results.json"), "utf8"))
  : { results: [] };
const merged = all.flatMap(({ title }) => {
  const fresh = results.find((r) => r.title === title);
  if (fresh) return [fresh];
  const kept = previous.results.find((r) => r.title === title);
  return kept ? [{ ...kept, stamp: kept.stamp ?? previous.stamp }] : [];
});
writeFileSync(
  join(here, "results.json"),
  `${JSON.stringify({ stamp, machine, results: merged }, null, 2)}\n`,
);

const lines = [
  `# Benchmark results`,
  "",
  `${stamp} · Node ${machine.node} · ${machine.platform} · ${machine.cpus} cores`,
  "",
];
for (const { title, rows, stamp: measured } of merged) {
  lines.push(
    `## ${title}`,
    "",
    ...(measured === stamp ? [] : [`(kept from the run of ${measured})`, ""]),
    "| measure | value | yardstick (same run) | bar | verdict |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const r of rows)
    lines.push(
      `| ${r.measure} | ${r.value} | ${r.yardstick ?? ""} | ${r.bar ?? ""} | ${r.pass === undefined ? "" : r.pass ? "meets" : "**MISSES**"} |`,
    );
  lines.push("");
}
writeFileSync(join(here, "results.md"), `${lines.join("\n")}\n`);
console.log(`\n${lines.join("\n")}`);
// A missed bar is a finding, not a failure; only errors fail the command.
process.exit(errors > 0 ? 1 : 0);
