import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { launchEnv, v8Flags } from "./v8-flags.js";

const launcherLine = () => readFileSync(new URL("./main.ts", import.meta.url), "utf8").split("\n")[0] ?? "";

// The flags are written in three places a user can start the server from; they must agree. The
// environment is the launcher line's and `start -d`'s: a POSIX assignment in `pnpm start` would
// not run under Windows' shell, and it matters only to a long run.
describe("v8Flags", () => {
  it("are the launcher line's flags, with its environment", () => {
    const assignments = Object.entries(launchEnv).map(([name, value]) => `${name}=${value} `);
    expect(launcherLine()).toBe(`#!/usr/bin/env -S ${assignments.join("")}node ${v8Flags.join(" ")}`);
  });

  it("are what `pnpm start` runs the server with", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    const flags = /&& node (.*) apps\/webserver\/dist\/main\.js$/.exec(pkg.scripts.start)?.[1];
    expect(flags).toBe(v8Flags.join(" "));
  });

  it("reach node as the launcher line runs it: env gets the rest of the line as one argument", () => {
    const [env, rest] = /^#!(\S+) (.*)$/.exec(launcherLine())?.slice(1) ?? [];
    const script = "console.log(JSON.stringify([process.execArgv, process.env]))";
    const seen = execFileSync(env ?? "", [rest ?? "", "-e", script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    const [execArgv, environment] = JSON.parse(seen);
    expect(execArgv).toEqual([...v8Flags, "-e", script]);
    expect(environment).toMatchObject(launchEnv);
  });
});
