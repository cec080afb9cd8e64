import type { SimulatedXiaozhiCloud } from "./simulated-cloud.js";

/**
 * Follows how many open sockets each token has on a simulated cloud, and every time two or more
 * providers held one token at once, with for how long: what a test of several providers sharing
 * the endpoints asserts on. `until` waits on the counts' changes, never by polling.
 */
export class TokenSocketWatch {
  /** Open sockets per token, as last reported. */
  readonly counts = new Map<string, number>();
  /** Each time a token had two or more sockets, once it is back to one or none. */
  readonly overlaps: { readonly token: string; readonly ms: number }[] = [];
  readonly #since = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #off: () => void;

  constructor(cloud: SimulatedXiaozhiCloud) {
    this.#off = cloud.onSessionCount((token, open) => {
      this.counts.set(token, open);
      const since = this.#since.get(token);
      if (open >= 2 && since === undefined) this.#since.set(token, Date.now());
      if (open < 2 && since !== undefined) {
        this.#since.delete(token);
        this.overlaps.push({ token, ms: Date.now() - since });
      }
      for (const wake of this.#waiters) wake();
    });
  }

  /** Open sockets of `token`. */
  count(token: string): number {
    return this.counts.get(token) ?? 0;
  }

  /** Whether each of `tokens` has exactly one socket. */
  eachOnce(tokens: readonly string[]): boolean {
    return tokens.every((token) => this.count(token) === 1);
  }

  /** Overlaps so far, counting those still open. */
  overlapCount(): number {
    return this.overlaps.length + this.#since.size;
  }

  /** The longest overlap so far in ms, counting those still open. */
  longestOverlap(): number {
    const now = Date.now();
    return Math.max(
      0,
      ...[...this.#since.values()].map((since) => now - since),
      ...this.overlaps.map((o) => o.ms),
    );
  }

  /**
   * Resolves with the ms waited once `predicate` holds (checked now and at every change of a
   * count); rejects after `timeoutMs` with `what` and the counts of the tokens seen.
   */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        done();
        resolve(Date.now() - started);
      };
      const timer = setTimeout(() => {
        done();
        const seen = [...this.counts].map(([token, open]) => `${token}=${open}`).join(" ");
        reject(new Error(`${what}: not within ${timeoutMs} ms (${seen})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Stops following the cloud. */
  dispose(): void {
    this.#off();
    this.#waiters.clear();
  }
}
