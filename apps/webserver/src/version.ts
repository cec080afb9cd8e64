import { readFileSync } from "node:fs";

/** This package's version, as `--version` and `/api/status` report it. */
export const version = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
