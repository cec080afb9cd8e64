const marker = Symbol.for("xiaozhi-connect.error");

/** Stable error codes; match on these, never on messages. */
export type ErrorCode =
  | "NO_HEALTHY_CONNECTION"
  | "DUPLICATE_ENDPOINT"
  | "INVALID_ENDPOINT"
  | "UNKNOWN_ENDPOINT"
  | "UNKNOWN_TOOL"
  | "UNKNOWN_SERVICE"
  | "DUPLICATE_SERVICE"
  | "CONNECT_TIMEOUT"
  | "CONNECT_FAILED"
  | "AUTH_REJECTED"
  | "NOT_CONNECTED"
  | "SEND_FAILED"
  | "TIMEOUT"
  | "ABORTED"
  | "CLOSED"
  | "NOT_CONFIGURED"
  | "INVALID_CONFIG"
  | "UNKNOWN_STRATEGY"
  | "DUPLICATE_STRATEGY"
  /** Cluster mode could not reach Redis (or its endpoint list) for a change; nothing was applied. */
  | "CLUSTER_UNAVAILABLE"
  /** Cluster mode sent a change to Redis that was not confirmed in time: it may still apply. */
  | "CLUSTER_OUTCOME_UNKNOWN"
  /** Another live instance of the cluster has this instance's id. */
  | "DUPLICATE_INSTANCE";

/** Codes whose operation provably never reached the far side, so running it elsewhere is safe. */
const unreachedCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["NOT_CONNECTED", "SEND_FAILED"]);
/**
 * Codes that retrying cannot fix until the configuration changes: a rejected token, a malformed
 * value, a name that is missing or already taken. The same call fails the same way until then.
 */
const permanentCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "AUTH_REJECTED",
  "DUPLICATE_INSTANCE",
  "INVALID_ENDPOINT",
  "INVALID_CONFIG",
  "UNKNOWN_ENDPOINT",
  "DUPLICATE_ENDPOINT",
  "UNKNOWN_STRATEGY",
  "DUPLICATE_STRATEGY",
  "UNKNOWN_SERVICE",
  "DUPLICATE_SERVICE",
]);

export interface XiaozhiErrorOptions extends ErrorOptions {
  /** Overrides the code's default: whether reconnecting may succeed without a config change. */
  retryable?: boolean;
  /** The WebSocket close code or HTTP status behind the error, when there is one. */
  status?: number;
  /**
   * How long the far side asked to be left alone (an HTTP `Retry-After`), in ms: a failed connect
   * is tried again after that rather than after the backoff (up to `backoff.maxDelay`).
   */
  retryAfterMs?: number;
}

/**
 * The one error type of xiaozhi-connect: connections, config, tools and strategies alike, told apart
 * by `code`. Recognised across duplicate package copies with {@link XiaozhiError.isInstance};
 * messages never contain endpoint tokens.
 */
export class XiaozhiError extends Error {
  readonly [marker] = true;
  override readonly name = "XiaozhiError";
  /** Whether a later attempt may succeed without a config change. */
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** The wait the far side asked for before a retry (`Retry-After`), in ms, when it asked. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: XiaozhiErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? !permanentCodes.has(code);
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  static isInstance(value: unknown): value is XiaozhiError {
    return typeof value === "object" && value !== null && marker in value;
  }
}

/**
 * True when `error` proves the operation never reached its connection (not connected, send failed),
 * which is the only case where failing over cannot run it twice.
 */
export function neverReached(error: unknown): boolean {
  return XiaozhiError.isInstance(error) && unreachedCodes.has(error.code);
}

/** @deprecated The former name of {@link XiaozhiError}, kept for code written against 0.1. */
export const ConnectError = XiaozhiError;
/** @deprecated The former name of {@link XiaozhiError}. */
export type ConnectError = XiaozhiError;
/** @deprecated The former name of {@link XiaozhiErrorOptions}. */
export type ConnectErrorOptions = XiaozhiErrorOptions;

/** A short, token-free description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
