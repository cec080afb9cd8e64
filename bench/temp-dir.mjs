// Imported first by run.mjs: every temporary directory of a bench run (configs, state dirs, the
// servers' logs) goes under one directory, removed when the run exits, so the bench leaves nothing
// in the machine's temp dir. Its sections and the processes they spawn inherit TMPDIR, and
// `os.tmpdir()` reads it at each call.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "xz-bench-run-"));
process.env.TMPDIR = dir;
process.on("exit", () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
