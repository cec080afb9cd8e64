import { vi } from "vitest";
import { type CliIo, main } from "../src/cli.js";

/** Runs `main` in this process with stdout and stderr captured, in `cwd` when given. */
export async function capture(args: string[], env: NodeJS.ProcessEnv, cwd?: string, io?: CliIo) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  const restoreCwd = cwd ? process.cwd() : undefined;
  if (cwd) process.chdir(cwd);
  try {
    const code = await main(args, env, io);
    return { code, out: out.join(""), err: err.join("") };
  } finally {
    if (restoreCwd) process.chdir(restoreCwd);
    vi.restoreAllMocks();
  }
}
