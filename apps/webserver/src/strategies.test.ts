import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { loadStrategies, strategyProblems } from "./strategies.js";

// The checks `start` and `config check` share, run in this process on modules written for it.
const dir = mkdtempSync(join(tmpdir(), "xz-strategies-"));
const make = (name: string) =>
  `export default function make() { return { specificationVersion: "v1", name: ${JSON.stringify(name)}, select: (c) => c[0] }; }\n`;
writeFileSync(join(dir, "good.mjs"), make("good"));
writeFileSync(join(dir, "misnamed.mjs"), make("other-name"));
writeFileSync(join(dir, "not-factory.mjs"), "export default 42;\n");
writeFileSync(join(dir, "throws.mjs"), 'throw new Error("exploded at load");\n');
writeFileSync(join(dir, "imports.mjs"), 'import "@xiaozhi-connect/no-such-package";\nexport default 1;\n');
mkdirSync(join(dir, "cjs"));
writeFileSync(join(dir, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }));
writeFileSync(
  join(dir, "cjs", "built.js"),
  `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = function make() { return { specificationVersion: "v1", name: "built", select: (c) => c[0] }; };\n`,
);

async function refusal(entries: Record<string, string>): Promise<string> {
  try {
    await loadStrategies(entries, dir);
  } catch (error) {
    return describeError(error);
  }
  throw new Error("it loaded");
}

describe("strategies from the config", () => {
  it("loads an ES module and a CommonJS build, and registers each under its name", async () => {
    const registry = await loadStrategies({ good: "./good.mjs", built: "./cjs/built.js" }, dir);
    expect(registry.create("good").name).toBe("good");
    expect(registry.create("built").name).toBe("built");
  });

  it("refuses each kind of bad entry, naming it", async () => {
    expect(await refusal({ gone: "./missing.mjs" })).toMatch(/^strategies\.gone: /);
    expect(await refusal({ bare: "good.mjs" })).toMatch(/strategies\.bare: .*\.\/good\.mjs/);
    expect(await refusal({ pkg: "@acme/strategy" })).toMatch(/node_modules/);
    expect(await refusal({ misnamed: "./misnamed.mjs" })).toMatch(/other-name/);
    expect(await refusal({ "not-factory": "./not-factory.mjs" })).toMatch(/default export/);
    expect(await refusal({ throws: "./throws.mjs" })).toMatch(/exploded at load/);
    expect(await refusal({ imports: "./imports.mjs" })).toMatch(/resolves its own imports/);
    expect(await refusal({ "round-robin": "./good.mjs" })).toMatch(/round-robin/);
  });

  it("says every problem of a config with the field it is in, as config check prints them", async () => {
    const problems = (
      await strategyProblems(
        {
          strategies: { good: "./good.mjs", gone: "./missing.mjs" },
          connection: { loadBalanceStrategy: "weigthed" },
          mcpServers: {
            a: { replicas: [{ command: "node" }, { command: "node" }], strategy: "nosuch" },
            b: { replicas: [{ command: "node" }], strategy: "good" },
          },
        } as never,
        dir,
      )
    ).map(describeError);
    expect(problems.some((p) => p.startsWith("strategies.gone: "))).toBe(true);
    expect(problems.some((p) => p.startsWith("connection.loadBalanceStrategy: unknown strategy"))).toBe(true);
    expect(problems.some((p) => p.startsWith("mcpServers.a.strategy: unknown strategy"))).toBe(true);
    expect(problems.some((p) => p.startsWith("mcpServers.b"))).toBe(false);
    expect(await strategyProblems({ strategies: { good: "./good.mjs" } } as never, dir)).toEqual([]);
  });
});
