import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(import.meta.dirname, "..", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    // Test files and their helpers may import the test runner.
    return entry.name.endsWith(".ts") && !/\.test(-helpers)?\.ts$/.test(entry.name) ? [path] : [];
  });
}

describe("core boundaries", () => {
  it("imports nothing but its own modules: no ws, no SDK, no Node built-ins, no DI", () => {
    const files = sources(src);
    expect(files.length).toBeGreaterThan(10);
    const foreign = files.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/from\s+"([^"]+)"/g)]
        .map((m) => m[1] as string)
        .filter((spec) => !spec.startsWith("./") && !spec.startsWith("../"))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(foreign).toEqual([]);
  });
});
