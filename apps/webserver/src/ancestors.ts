import { readFileSync } from "node:fs";
import { isAlive } from "./state.js";

/** How often the ancestors are checked: well within the second the README promises. */
export const ancestorCheckMs = 200;

/**
 * The processes this one was started through, nearest first: its parent, the parent's parent and
 * so on, up to but not including pid 1 (Linux `/proc`). Elsewhere only the parent is known.
 */
export function ancestors(pid = process.pid, parent = process.ppid): number[] {
  const chain: number[] = [];
  let next = parent;
  // Bounded: a chain of wrappers is a handful deep; a loop in /proc (never seen) cannot hang us.
  while (next > 1 && chain.length < 64) {
    chain.push(next);
    next = parentOf(next) ?? 0;
  }
  return chain.filter((p) => p !== pid);
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone` once, when any process this one was started through has exited (or become a
 * zombie), checking every `ancestorCheckMs`. A wrapper such as npx or pnpm that is killed does not
 * pass the signal on, and the shell it ran may live on as this process's parent: watching the whole
 * chain, not only the parent, notices it either way (`chain` is for tests: the pids to watch).
 * Returns the function that stops watching.
 */
export function watchAncestors(
  onGone: (pid: number) => void,
  everyMs = ancestorCheckMs,
  chain: readonly number[] = ancestors(),
): () => void {
  const parent = process.ppid;
  if (chain.length === 0) return () => {};
  let tick = 0;
  const timer = setInterval(() => {
    // A signal 0 is cheap; reading /proc to tell a zombie (killed, not yet reaped) costs more, so
    // that is done once a second. Supervisors and shells reap at once, so it is rarely needed.
    const thorough = tick++ % Math.max(1, Math.round(1000 / everyMs)) === 0;
    const gone =
      chain.find((pid) => !(thorough ? isAlive(pid) : exists(pid))) ??
      (process.ppid !== parent ? parent : undefined);
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
