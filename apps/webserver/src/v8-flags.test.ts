import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { launchEnv, v8Flags, withLaunchEnv } from "./v8-flags.js";

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
const launcherLine = () => read("./main.ts").split("\n")[0] ?? "";

// The flags are written in three places a user can start the server from; they must agree.
describe("v8Flags", () => {
  it("are the launcher line's flags", () => {
    expect(launcherLine()).toBe(`#!/usr/bin/env -S node ${v8Flags.join(" ")}`);
  });

  it("are what `pnpm start` runs the server with", () => {
    const pkg = JSON.parse(read("../../../package.json"));
    const flags = /&& node (.*) apps\/webserver\/dist\/main\.js start$/.exec(pkg.scripts.start)?.[1];
    expect(flags).toBe(v8Flags.join(" "));
  });

  it("reach node as the launcher line runs it: env gets the rest of the line as one argument", () => {
    const [env, rest] = /^#!(\S+) (.*)$/.exec(launcherLine())?.slice(1) ?? [];
    const script = "console.log(JSON.stringify(process.execArgv))";
    const seen = execFileSync(env ?? "", [rest ?? "", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(seen)).toEqual([...v8Flags, "-e", script]);
  });
});

describe("launchEnv", () => {
  it("is set by the systemd unit", () => {
    const unit = read("../../../docs/systemd/xiaozhi-connect.service");
    for (const [name, value] of Object.entries(launchEnv)) {
      expect(unit).toMatch(new RegExp(`^Environment=${name}=${value}$`, "m"));
    }
  });

  it("is added to an environment without it, and gives way to a value the user set", () => {
    const [name] = Object.keys(launchEnv);
    expect(withLaunchEnv({ HOME: "/h" })).toEqual({ HOME: "/h", ...launchEnv });
    expect(withLaunchEnv({ [name ?? ""]: "65536" })[name ?? ""]).toBe("65536");
  });
});
