import { atRisk, type RunLog, violations, type Window } from "./fault-checks.js";

export interface FaultRunResult {
  readonly seed: number;
  /** Every promise broken, in words; empty when the run kept them all. */
  readonly violations: string[];
  readonly faults: readonly Window[];
  readonly changes: {
    readonly done: number;
    readonly refused: number;
    readonly unknown: number;
    /** Done, but known only to Redis and to instances that did not outlive its restart. */
    readonly atRisk: number;
  };
  readonly calls: {
    readonly sent: number;
    readonly answered: number;
    readonly failed: number;
    readonly cut: number;
    readonly lost: number;
    readonly doubled: number;
  };
  /** From the last fault healed to every instance showing the same endpoints, each held once. */
  readonly agreedAfterMs: number;
  /** Where every instance's output is kept (`<id>-<n>.log`), for a run that broke a promise. */
  readonly dir: string;
}

/** What a fault run reports, from its log: the promises it broke, its changes and its calls counted. */
export function faultRunResult(
  seed: number,
  log: RunLog,
  problems: readonly string[],
  agreedAfterMs: number,
  dir: string,
): FaultRunResult {
  const { windows, changes, calls } = log;
  return {
    seed,
    violations: [...problems, ...violations(log)],
    faults: windows,
    changes: {
      atRisk: changes.filter((c) => atRisk(log, c)).length,
      done: changes.filter((c) => c.outcome === "done").length,
      refused: changes.filter((c) => c.outcome === "refused").length,
      unknown: changes.filter((c) => c.outcome === "unknown").length,
    },
    calls: {
      sent: calls.length,
      answered: calls.filter((c) => c.answers > 0).length,
      failed: calls.filter((c) => c.answers > 0 && !c.ok).length,
      cut: calls.filter((c) => c.cut).length,
      lost: calls.filter((c) => c.answers === 0 && !c.cut).length,
      doubled: calls.filter((c) => c.answers > 1).length,
    },
    agreedAfterMs,
    dir,
  };
}
