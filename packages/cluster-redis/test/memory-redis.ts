import type {
  BeatResult,
  LeaseChange,
  LeaseLogPosition,
  LiveMember,
  MemberInfo,
  StoredList,
  WriteResult,
} from "../src/stores.js";
import type { FakeClock } from "./fake-clock.js";
import { MemoryConnection } from "./memory-connection.js";

export { MemoryConnection };

/**
 * Redis in memory on a fake clock, with the semantics of the Lua scripts (the contract test runs
 * the same cases against both), and the faults a test needs: Redis away, Redis losing its data,
 * a connection paused (a SIGSTOPped process), a reply lost, a command that lands late.
 */
export class MemoryRedis {
  readonly #values = new Map<string, { value: string; expires: number }>();
  readonly #live = new Map<string, { deadline: number; info: string }>();
  #list: StoredList | undefined;
  readonly #subscribers = new Set<MemoryConnection>();
  /** Redis answers nobody (connections refused). */
  down = false;
  /** Commands run, by kind: how a test sees what an instance did. */
  readonly calls = new Map<string, number>();
  /** Lease values read (by `read` and `snapshot`): what reading the leases costs. */
  leasesRead = 0;
  /** The lease log: every change, numbered from 1; at least the `logKeep` most recent are kept. */
  #log: { seq: number; id: string; value: string | undefined }[] = [];
  #seq = 0;
  logKeep = 50_000;

  constructor(readonly clock: FakeClock) {}

  /** Redis's own time: one clock for every instance. */
  time(): number {
    return this.clock.now() + 1_700_000_000_000;
  }

  /** Redis restarts empty. */
  flush(): void {
    this.#log = [];
    this.#seq = 0;
    this.#values.clear();
    this.#live.clear();
    this.#list = undefined;
  }

  connect(name: string): MemoryConnection {
    return new MemoryConnection(this, name);
  }

  get list(): StoredList | undefined {
    return this.#list;
  }

  lease(id: string): string | undefined {
    return this.get(`lease:${id}`);
  }

  /** Logs a lease change, as the Lua scripts do. */
  logLease(id: string, value: string | undefined): void {
    this.#seq++;
    this.#log.push({ seq: this.#seq, id, value });
    // Trimmed in steps, as Redis trims with `MAXLEN ~`: at least the last `logKeep` stay.
    if (this.#log.length >= 2 * this.logKeep) this.#log = this.#log.slice(-this.logKeep);
  }

  get position(): LeaseLogPosition {
    return { seq: this.#seq, cursor: String(this.#seq) };
  }

  leaseChanges(
    after: LeaseLogPosition,
    max: number,
  ): { changes: LeaseChange[]; at: LeaseLogPosition } | undefined {
    if (after.seq === this.#seq) return { changes: [], at: this.position };
    if (after.seq > this.#seq || this.#seq - after.seq > max) return undefined;
    const first = this.#log.findIndex((entry) => entry.seq > after.seq);
    if (first < 0 || this.#log[first]?.seq !== after.seq + 1) return undefined;
    const changes = this.#log.slice(first).map((entry): LeaseChange => [entry.id, entry.value]);
    return { changes, at: this.position };
  }

  get(key: string): string | undefined {
    const entry = this.#values.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.time()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Milliseconds `key` has left, or undefined when it is not there. */
  ttl(key: string): number | undefined {
    return this.get(key) === undefined ? undefined : (this.#values.get(key)?.expires ?? 0) - this.time();
  }

  set(key: string, value: string, ttl = Number.POSITIVE_INFINITY): void {
    this.#values.set(key, { value, expires: this.time() + ttl });
  }

  delete(key: string): void {
    this.#values.delete(key);
  }

  publish(message: string): void {
    for (const connection of this.#subscribers) connection.deliver(message);
  }

  subscribe(connection: MemoryConnection): () => void {
    this.#subscribers.add(connection);
    return () => this.#subscribers.delete(connection);
  }

  beat(id: string, info: MemberInfo, proposedBoot: string): BeatResult {
    const now = this.time();
    let boot = this.get("boot");
    if (boot === undefined) {
      boot = proposedBoot;
      this.set("boot", boot);
    }
    for (const [member, entry] of this.#live) if (entry.deadline < now) this.#live.delete(member);
    const current = this.#live.get(id);
    if (current && (JSON.parse(current.info) as MemberInfo).incarnation !== info.incarnation) {
      return { taken: true, now, holder: member(current.info, current.deadline) };
    }
    this.#live.set(id, { deadline: now + info.ttl, info: JSON.stringify(info) });
    const list = this.#list;
    return {
      taken: false,
      now,
      boot,
      list: list && { epoch: list.epoch, version: list.version, settleUntil: list.settleUntil },
      live: new Map([...this.#live].map(([member_, entry]) => [member_, member(entry.info, entry.deadline)])),
    };
  }

  leave(id: string, incarnation: string): void {
    const current = this.#live.get(id);
    if (current && (JSON.parse(current.info) as MemberInfo).incarnation === incarnation)
      this.#live.delete(id);
  }

  seed(list: Omit<StoredList, "settleUntil">, settleMs: number): boolean {
    const now = this.time();
    const current = this.#list;
    let write = current === undefined;
    if (current && now < current.settleUntil) {
      write =
        (current.origin === "file" && list.origin === "history") ||
        (current.epoch === list.epoch && list.version > current.version);
    }
    if (!write) return false;
    this.#list = { ...structuredClone(list), settleUntil: now + settleMs };
    this.publish(JSON.stringify({ t: "list", epoch: list.epoch, v: list.version }));
    return true;
  }

  write(
    base: { epoch: string; version: number },
    entries: unknown[],
    changeId: string,
    keep: number,
  ): WriteResult {
    const now = this.time();
    const current = this.#list;
    if (!current) return { kind: "absent" };
    if (current.changes.includes(changeId)) return { kind: "applied" };
    if (current.epoch !== base.epoch || current.version !== base.version) return { kind: "conflict" };
    if (now < current.settleUntil) return { kind: "settling", waitMs: current.settleUntil - now };
    const version = current.version + 1;
    this.#list = {
      ...current,
      version,
      entries: structuredClone(entries),
      origin: "history",
      changes: [...current.changes, changeId].slice(-keep),
    };
    this.publish(JSON.stringify({ t: "list", epoch: current.epoch, v: version }));
    return { kind: "written", version };
  }

  count(kind: string): void {
    this.calls.set(kind, (this.calls.get(kind) ?? 0) + 1);
  }
}

function member(info: string, deadline: number): LiveMember {
  return { ...(JSON.parse(info) as MemberInfo), deadline };
}
