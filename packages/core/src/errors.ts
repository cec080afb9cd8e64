const marker = Symbol.for("xiaozhi-connect.error");

/** Stable error codes; match on these, never on messages. */
export type ErrorCode =
  | "NO_HEALTHY_CONNECTION"
  | "DUPLICATE_ENDPOINT"
  | "INVALID_ENDPOINT"
  | "UNKNOWN_ENDPOINT"
  | "UNKNOWN_TOOL"
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
  | "DUPLICATE_STRATEGY";

/** Codes whose operation provably never reached the far side, so running it elsewhere is safe. */
const unreachedCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["NOT_CONNECTED", "SEND_FAILED"]);
/** Codes that retrying cannot fix until the configuration changes. */
const permanentCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "AUTH_REJECTED",
  "INVALID_ENDPOINT",
  "INVALID_CONFIG",
]);

export interface ConnectErrorOptions extends ErrorOptions {
  /** Overrides the code's default: whether reconnecting may succeed without a config change. */
  retryable?: boolean;
  /** The WebSocket close code or HTTP status behind the error, when there is one. */
  status?: number;
}

/**
 * The one error type of xiaozhi-connect. Recognised across duplicate package copies with
 * {@link ConnectError.isInstance}; messages never contain endpoint tokens.
 */
export class ConnectError extends Error {
  readonly [marker] = true;
  override readonly name = "ConnectError";
  /** Whether a later attempt may succeed without a config change. */
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ConnectErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? !permanentCodes.has(code);
    this.status = options.status;
  }

  static isInstance(value: unknown): value is ConnectError {
    return typeof value === "object" && value !== null && marker in value;
  }
}

/**
 * True when `error` proves the operation never reached its connection (not connected, send failed),
 * which is the only case where failing over cannot run it twice.
 */
export function neverReached(error: unknown): boolean {
  return ConnectError.isInstance(error) && unreachedCodes.has(error.code);
}

/** A short, token-free description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
