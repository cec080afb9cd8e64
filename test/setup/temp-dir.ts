import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Every temporary directory the suite makes (homes, state dirs, configs, logs of the servers it
// spawns) goes under one directory per run, removed when the run ends, so the suite leaves
// nothing in the machine's temp dir. Workers and the processes they spawn inherit TMPDIR, and
// `os.tmpdir()` reads it at each call.
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "xz-suite-"));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
