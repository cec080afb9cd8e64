// Prints line coverage per package and app from vitest's json-summary, with the 90% bar.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const summary = JSON.parse(readFileSync(join(root, "coverage", "coverage-summary.json"), "utf8"));
const totals = new Map();
for (const [file, data] of Object.entries(summary)) {
  if (file === "total") continue;
  const match = /^(packages|apps)\/([^/]+)\//.exec(relative(root, file));
  if (!match) continue;
  const key = `${match[1]}/${match[2]}`;
  const t = totals.get(key) ?? { covered: 0, total: 0 };
  t.covered += data.lines.covered;
  t.total += data.lines.total;
  totals.set(key, t);
}
console.log("\nLine coverage per package (bar: 90%)");
let below = 0;
for (const [key, { covered, total }] of [...totals].sort()) {
  const pct = total ? (100 * covered) / total : 100;
  if (pct < 90) below++;
  console.log(
    `  ${key.padEnd(28)} ${pct.toFixed(1).padStart(5)}%  (${covered}/${total} lines)${pct < 90 ? "  BELOW THE BAR" : ""}`,
  );
}
process.exit(below ? 1 : 0);
