import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { v8Flags } from "./v8-flags.js";

// The flags are written in three places a user can start the server from; they must agree.
describe("v8Flags", () => {
  it("are the launcher line's flags", () => {
    const shebang = readFileSync(new URL("./main.ts", import.meta.url), "utf8").split("\n")[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${v8Flags.join(" ")}`);
  });

  it("are what `pnpm start` runs the server with", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    const flags = /&& node (.*) apps\/webserver\/dist\/main\.js$/.exec(pkg.scripts.start)?.[1];
    expect(flags).toBe(v8Flags.join(" "));
  });
});
