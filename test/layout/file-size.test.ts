import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
/** Folders that hold what others wrote or what a build or a test run made (dot-folders are skipped too). */
const skipped = new Set(["node_modules", "dist", "coverage", "test-output"]);
const limit = 400;

/** The code files under `dir`: TypeScript and JavaScript, tests and helpers included. */
function codeFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith(".") || skipped.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return codeFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

describe("layout", () => {
  it(`keeps every code file at ${limit} lines or fewer, so each can have one job its name says`, () => {
    const files = codeFiles(root);
    expect(files.length).toBeGreaterThan(100);
    const long = files
      .map((file) => ({
        file: relative(root, file),
        lines: readFileSync(file, "utf8").split("\n").length - 1,
      }))
      .filter(({ lines }) => lines > limit);
    expect(long).toEqual([]);
  });
});
