import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const unit = join(import.meta.dirname, "../../../docs/systemd/xiaozhi-connect.service");
const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((path) => existsSync(path));

describe("the systemd unit in the docs", () => {
  it("passes systemd-analyze verify", () => {
    if (analyze === undefined) {
      throw new Error(
        "systemd-analyze is needed: apt-get update && apt-get install -y systemd (.ci/run installs it)",
      );
    }
    const output = execFileSync(analyze, ["verify", unit], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(output).toBe("");
  });

  it("runs the foreground command directly, so SIGTERM reaches the server", () => {
    const execStart = readFileSync(unit, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("ExecStart="));
    expect(execStart).toEqual(["ExecStart=/usr/bin/env xiaozhi-connect start"]);
  });
});
