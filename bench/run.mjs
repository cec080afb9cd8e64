// pnpm bench: measures xiaozhi-connect against the bars of its design, each figure beside a
// yardstick measured in the same run on the same machine. Prints a table and writes
// bench/results.json and bench/results.md. Exits non-zero only on errors, never on a missed bar.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { strategyPick } from "./strategy-pick.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const sections = [strategyPick];
const results = [];
for (const section of sections) {
  process.stdout.write(`running ${section.title} …\n`);
  results.push({ title: section.title, rows: await section.run() });
}

const machine = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: (await import("node:os")).cpus().length,
};
const stamp = new Date().toISOString();
writeFileSync(join(here, "results.json"), `${JSON.stringify({ stamp, machine, results }, null, 2)}\n`);

const lines = [
  `# Benchmark results`,
  "",
  `${stamp} · Node ${machine.node} · ${machine.platform} · ${machine.cpus} cores`,
  "",
];
for (const { title, rows } of results) {
  lines.push(
    `## ${title}`,
    "",
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
