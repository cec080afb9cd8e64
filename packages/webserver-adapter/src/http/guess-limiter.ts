import type { Logger } from "@xiaozhi-connect/core";
import type { Context } from "hono";

/** Wrong secrets an address may send before each further one locks it out for longer. */
export const freeGuesses = 5;
/** The longest lock, ms. */
export const maxLockMs = 15 * 60_000;
/** Addresses remembered at most: a flood from many addresses cannot grow memory without end. */
const maxAddresses = 10_000;

interface Failures {
  count: number;
  blockedUntil: number;
}

/** What one wrong secret did to its address. */
export interface Guess {
  /** Wrong secrets from the address so far. */
  readonly count: number;
  /** Seconds the address is now locked out for; 0 when it may try again at once. */
  readonly retryAfterS: number;
}

/**
 * Wrong passwords counted per remote address, for the login page: after `freeGuesses`, each
 * further one locks the address out for twice as long (1 s, 2 s, … up to 15 minutes). Only the
 * guesser's address is locked, so the right secret from anywhere else still works. No timer runs:
 * a record is looked at when its address comes back, and the oldest goes to make room. Bearer
 * tokens are not counted here: they are too long to guess, and a lock would only shut out a client
 * retrying a stale one, or everyone behind the same proxy (see `WrongTokenLog`).
 */
export class GuessLimiter {
  readonly #failures = new Map<string, Failures>();

  /** `now` is the clock, ms. */
  constructor(private readonly now: () => number) {}

  /** Seconds the address must still wait; 0 when it may try now. */
  retryAfter(address: string): number {
    const record = this.#failures.get(address);
    const left = (record?.blockedUntil ?? 0) - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a wrong secret from the address. */
  fail(address: string): Guess {
    const now = this.now();
    const record = this.#failures.get(address) ?? { count: 0, blockedUntil: 0 };
    record.count++;
    if (record.count > freeGuesses) {
      record.blockedUntil = now + Math.min(1000 * 2 ** (record.count - freeGuesses - 1), maxLockMs);
    }
    // Most recently failed last, so the first one is the one to drop.
    this.#failures.delete(address);
    this.#failures.set(address, record);
    if (this.#failures.size > maxAddresses) {
      this.#failures.delete(this.#failures.keys().next().value as string);
    }
    const left = record.blockedUntil - now;
    return { count: record.count, retryAfterS: left > 0 ? Math.ceil(left / 1000) : 0 };
  }

  /** The address sent a right secret: it starts afresh. */
  forget(address: string): void {
    this.#failures.delete(address);
  }
}

/** The answer to a locked-out address: 429 with `Retry-After`, shaped as every API error. */
export function tooManyAttempts(c: Context, retryAfterS: number): Response {
  c.header("Retry-After", String(retryAfterS));
  return c.json(
    { error: { code: "TOO_MANY_ATTEMPTS", message: "too many wrong attempts; wait and try again" } },
    429,
  );
}

/** How long a wrong-token summary covers, and how long an address must be quiet to be forgotten, ms. */
export const wrongTokenWindowMs = 60_000;
/** Addresses a `WrongTokenLog` follows at most; past that, the quietest is forgotten. */
const maxLoggedAddresses = 1000;

interface Refusals {
  /** When the address's current window began. */
  since: number;
  /** Wrong tokens in that window not logged yet. */
  held: number;
  /** The address's latest wrong token. */
  last: number;
}

/**
 * Keeps wrong bearer tokens from flooding the log without refusing anyone: per address, the first
 * wrong token is logged, and after that at most one line per `wrongTokenWindowMs` says how many
 * more came. The token is never logged. An address quiet for a whole window is forgotten (its held
 * count logged then), and at most 1000 are followed. No timer runs: the clock is read as tokens come.
 */
export class WrongTokenLog {
  /** Followed addresses, the longest quiet first. */
  readonly #addresses = new Map<string, Refusals>();

  constructor(
    private readonly options: {
      readonly logger: Logger;
      /** What the lines say, e.g. "MCP client refused"; the fields say the rest. */
      readonly message: string;
      /** The clock, ms. */
      readonly now: () => number;
    },
  ) {}

  /** Addresses followed now; for leak checks. */
  get size(): number {
    return this.#addresses.size;
  }

  /** Notes one wrong token from `address`; `fields` (no secret in them) go on any line logged. */
  refused(address: string, fields: Record<string, unknown> = {}): void {
    const now = this.options.now();
    this.#forgetQuiet(now);
    const record = this.#addresses.get(address);
    if (!record) {
      this.options.logger.warn({ ...fields, address }, `${this.options.message}: wrong token`);
      this.#addresses.set(address, { since: now, held: 0, last: now });
      if (this.#addresses.size > maxLoggedAddresses) {
        this.#addresses.delete(this.#addresses.keys().next().value as string);
      }
      return;
    }
    // The quietest stay first, so forgetting looks at the front only.
    this.#addresses.delete(address);
    this.#addresses.set(address, record);
    record.last = now;
    record.held++;
    if (now - record.since < wrongTokenWindowMs) return;
    this.#summary(address, record, fields);
    record.since = now;
    record.held = 0;
  }

  #forgetQuiet(now: number): void {
    for (const [address, record] of this.#addresses) {
      if (now - record.last < wrongTokenWindowMs) return;
      this.#addresses.delete(address);
      if (record.held > 0) this.#summary(address, record, {});
    }
  }

  #summary(address: string, record: Refusals, fields: Record<string, unknown>): void {
    const seconds = Math.max(1, Math.round((record.last - record.since) / 1000));
    this.options.logger.warn(
      { ...fields, address, count: record.held, seconds },
      `${this.options.message}: ${record.held} more wrong tokens from ${address} over ${seconds} s`,
    );
  }
}
