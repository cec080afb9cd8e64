import { defineConfig } from "vitest/config";
import { published } from "./test/packaging/published.js";

// Vitest's failure reporter calls Map.groupBy, which Node 20 lacks (it arrived in Node 21).
// The config runs in the main process, so defining it here lets failures print on Node 20.
if (typeof Map.groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value<K, T>(items: Iterable<T>, key: (item: T, index: number) => K): Map<K, T[]> {
      const groups = new Map<K, T[]>();
      let index = 0;
      for (const item of items) {
        const k = key(item, index++);
        const group = groups.get(k);
        if (group) group.push(item);
        else groups.set(k, [item]);
      }
      return groups;
    },
  });
}

// Tests read sibling packages' TypeScript sources through the "@xiaozhi-connect/source" export
// condition, so no package has to be built before the suite runs.
const conditions = ["@xiaozhi-connect/source", "import", "module", "node", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/src/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "examples/*/src/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // What a poll waits for is a server's or a browser's answer, which a busy machine can hold
    // past vitest's default second; a poll that must be quicker says so itself.
    expect: { poll: { timeout: 10_000 } },
    pool: "forks",
    globalSetup: ["test/setup/temp-dir.ts"],
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts", "apps/*/src/**/*.ts"],
      // Entry points that only start a program (`main.ts`, the demo tools' stdio shim) run as
      // subprocesses in the CLI tests; what they call is covered in process.
      exclude: [
        "**/*.test.ts",
        "**/*.test-helpers.ts",
        "**/index.ts",
        "**/examples/**",
        "**/main.ts",
        "apps/webserver/src/demo-tools.ts",
      ],
      reporter: ["text", "json-summary"],
      // Every published package and the app keep 90% of their lines covered.
      thresholds: Object.fromEntries(published.map((dir) => [`${dir}/src/**`, { lines: 90 }])),
    },
  },
});
