import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type Candidate,
  type Connection,
  roundRobin,
  type SelectContext,
  type Strategy,
  type ToolCaller,
} from "@xiaozhi-connect/core";
import { untilEvent } from "@xiaozhi-connect/core/testing";
import type { McpServiceManager, ReplicaConfig } from "../src/index.js";
import { childrenRunning, untilFile } from "./processes.js";

export const replicaFixture = join(import.meta.dirname, "fixtures", "replica-server.mjs");

/** One line the replica fixture logged: `start`, `held`, `released` or `ran`. */
export interface Logged {
  readonly pid: number;
  readonly event: string;
  readonly name: string;
  readonly tag: string;
}

/** A log file for the replica fixture, entries that write to it, and ways to read it. */
export function replicaLog() {
  const path = join(mkdtempSync(join(tmpdir(), "xz-replica-changes-")), "replicas.log");
  writeFileSync(path, "");
  const lines = (): Logged[] =>
    readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [pid = "", event = "", name = "", tag = ""] = line.split(" ");
        return { pid: Number(pid), event, name, tag };
      });
  return {
    lines,
    /** A replica entry named `name`: the fixture's process says its name in every answer. */
    entry: (name: string, extra: Partial<ReplicaConfig> = {}): ReplicaConfig =>
      ({
        command: process.execPath,
        args: [replicaFixture, name],
        env: { REPLICA_LOG: path },
        ...extra,
      }) as ReplicaConfig,
    /** Resolves once `count` lines of `event` were logged, re-read at each write to the log. */
    until: (event: string, count: number, ms = 10_000) =>
      untilFile(
        path,
        () => lines().filter((line) => line.event === event).length >= count,
        ms,
        `${count} ${event} lines`,
      ),
    /** Every process start, in order, as `name@pid`. */
    starts: () => lines().flatMap((line) => (line.event === "start" ? [`${line.name}@${line.pid}`] : [])),
    /** The pid of the process that runs the replica named `name` (its last start). */
    pidOf: (name: string): number => {
      const start = lines().findLast((line) => line.event === "start" && line.name === name);
      if (!start) throw new Error(`replica ${name} never started`);
      return start.pid;
    },
  };
}

/** What a test strategy saw at one pick. */
export interface Pick {
  readonly strategy: string;
  /** Which instance of the strategy picked: 1 for the first one made, and so on. */
  readonly instance: number;
  readonly ids: readonly string[];
  readonly key: string | undefined;
  readonly weights: Readonly<Record<string, number>>;
  readonly picked: string | undefined;
}

/** FNV-1a, 32-bit, as the sticky example strategy hashes. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The built-in strategies and two of a third party's, which record every pick: `pinned` picks the
 * candidate whose id is `pin.to` (else the first), `sticky` keeps each affinity key on one
 * candidate by rendezvous hashing over the ids and goes round-robin without a key, as the
 * documented example does.
 */
export function testStrategies() {
  const picks: Pick[] = [];
  const pin: { to?: string } = {};
  const made: Record<string, number> = { pinned: 0, sticky: 0 };
  const recorded = (
    name: string,
    pick: <C extends Connection>(
      candidates: readonly Candidate<C>[],
      context: SelectContext,
    ) => Candidate<C> | undefined,
  ) => {
    const instance = (made[name] ?? 0) + 1;
    made[name] = instance;
    return (): Strategy => ({
      specificationVersion: "v1",
      name,
      select(candidates, context) {
        const picked = pick(candidates, context);
        picks.push({
          strategy: name,
          instance,
          ids: candidates.map((c) => c.id),
          key: context.key,
          weights: Object.fromEntries(candidates.map((c) => [c.id, c.weight])),
          picked: picked?.id,
        });
        return picked;
      },
    });
  };
  const strategies = StrategyRegistry.withBuiltins()
    .register("pinned", () =>
      recorded("pinned", (candidates) => candidates.find((c) => c.id === pin.to) ?? candidates[0])(),
    )
    .register("sticky", () => {
      const fallback = roundRobin();
      return recorded("sticky", (candidates, context) => {
        if (context.key === undefined) return fallback.select(candidates, context);
        let best = candidates[0];
        for (const candidate of candidates) {
          if (hash(`${context.key}\u0000${candidate.id}`) > hash(`${context.key}\u0000${best?.id}`))
            best = candidate;
        }
        return best;
      })();
    });
  return { strategies, picks, pin, made };
}

/** What the fixture answered: the caller's tag, and the pid and name of the replica that ran it. */
export interface Answer {
  readonly tag: string;
  readonly pid: number;
  readonly name: string;
}

/** Calls `tool` of the fixture through the manager, as `caller` when given. */
export async function call(
  manager: McpServiceManager,
  tool: string,
  tag: string,
  caller?: ToolCaller,
): Promise<Answer> {
  const result = await manager.callTool(
    tool,
    { tag },
    { signal: AbortSignal.timeout(20_000), ...(caller === undefined ? {} : { caller }) },
  );
  const [answered = "", pid = "", name = ""] = String((result.content[0] as { text: string }).text).split(
    "@",
  );
  return { tag: answered, pid: Number(pid), name };
}

/** Lets every `hold` call running in these processes answer. */
export function release(...pids: number[]): void {
  for (const pid of pids) process.kill(pid, "SIGUSR2");
}

/**
 * The replica fixture processes of this test process still running. A stopped service has waited
 * for its processes to end, so after `await manager.stop()` this is empty at once.
 */
export function replicasRunning(): number[] {
  return childrenRunning(replicaFixture);
}

/** The services' replicas, removed ones still draining included, as `<index>` or `<index> draining`. */
export function replicaIndexes(manager: McpServiceManager): string[] {
  return (manager.status()[0]?.replicas ?? []).map((r) => `${r.index}${r.draining ? " draining" : ""}`);
}

/** Resolves once no removed replica of `manager` is draining, re-checked at each of its status changes. */
export function untilDrained(manager: McpServiceManager, ms = 10_000): Promise<void> {
  return untilEvent(
    (wake) => {
      const unsubscribe = manager.onStatusChanged(wake);
      return () => void unsubscribe();
    },
    () => manager.status().every((service) => !service.replicas?.some((r) => r.draining)),
    ms,
    "no replica draining",
  );
}
