import { redact } from "@xiaozhi-connect/core";
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

export interface CreateLoggerOptions {
  /** Default `info`. */
  readonly level?: string;
  /** Where lines go; default stdout. */
  readonly destination?: DestinationStream;
  /** Fields added to every line. */
  readonly base?: Record<string, unknown>;
}

/**
 * A pino logger that never writes a secret: Authorization headers are censored by path, and every
 * string in a line (message and fields) goes through core's `redact`, which masks URL query
 * secrets such as `token=`, URL passwords, JWTs and bearer tokens. An error, logged alone
 * (`log.error(err)`) or in any field, prints its type and only the fields that hold no secret by
 * their nature: message and stack (redacted), `code`, `errno`, `syscall`, `status`, `statusCode`,
 * `retryable`, and its `cause` and `aggregateErrors` by the same rules. A value nested more than
 * six levels deep prints as `"[…]"`, one inside itself as `"[Circular]"`. A log call never throws
 * on what it is given.
 */
export function createLogger(options: CreateLoggerOptions = {}): PinoLogger {
  return pino(
    {
      level: options.level ?? "info",
      base: options.base ?? null,
      redact: {
        paths: [
          "authorization",
          "headers.authorization",
          "*.headers.authorization",
          "req.headers.authorization",
          "req.headers.cookie",
        ],
        censor: "<masked>",
      },
      formatters: { log: (object) => redactDeep(object) as Record<string, unknown> },
      // The log formatter has printed every error already; pino's own would see a plain object.
      serializers: { err: (value: unknown) => value },
      hooks: {
        logMethod(args, method) {
          const redacted = withMessage(args).map((arg) => (typeof arg === "string" ? redact(arg) : arg));
          method.apply(this, redacted as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
}

/** Past this many levels of nesting a value prints as `"[…]"`: nothing deeper is copied unread. */
const maxDepth = 6;
/** The fields of an error that hold no secret by their nature, besides message and stack. */
const errorFields = ["code", "errno", "syscall", "status", "statusCode", "retryable"] as const;

/**
 * `log.error(err)`, `log.error({ err })`: pino takes the line's message from the error, past the
 * formatter, so it is given one here, to be redacted with the other strings.
 */
function withMessage(args: unknown[]): unknown[] {
  const [first] = args;
  if (args.length !== 1 || typeof first !== "object" || first === null) return args;
  try {
    const { err, msg } = first as { err?: unknown; msg?: unknown };
    const error = first instanceof Error ? first : msg === undefined ? err : undefined;
    const message = error ? (error as { message?: unknown }).message : undefined;
    return typeof message === "string" ? [first, message] : args;
  } catch {
    // A getter or proxy that throws: the log call must not.
    return [first, "[unreadable]"];
  }
}

/**
 * A printable copy of `value`: strings redacted, errors reduced to their safe fields (also a
 * cause that is no error, when `asError`), a value nested deeper than `maxDepth` replaced by
 * `"[…]"` and one inside itself by `"[Circular]"`. `within` holds the objects on the way down
 * only, so an object met twice side by side prints twice.
 */
function redactDeep(value: unknown, depth = 0, within = new WeakSet<object>(), asError = false): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > maxDepth) return "[…]";
  if (within.has(value)) return "[Circular]";
  within.add(value);
  try {
    if (asError || value instanceof Error) return printedError(value, depth, within);
    if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1, within));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1, within)]));
  } catch {
    // A getter or proxy that throws: the log call must not.
    return "[unreadable]";
  } finally {
    within.delete(value);
  }
}

/**
 * What is printed of an error, in pino's shape (`type`, `message`, `stack`, `aggregateErrors`).
 * No other own field: a child process's error holds its arguments (`--token …`), a client's its
 * options (`password`), and `redact` knows a secret by its text, not by its key.
 */
function printedError(error: object, depth: number, within: WeakSet<object>): Record<string, unknown> {
  const source = error as Record<string, unknown>;
  const type =
    typeof error.constructor === "function" && error.constructor.name ? error.constructor.name : source.name;
  const printed: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (typeof value === "string") printed[key] = redact(value);
    else if (typeof value === "number" || typeof value === "boolean") printed[key] = value;
  };
  put("type", type);
  put("message", source.message);
  put("stack", source.stack);
  for (const key of errorFields) put(key, source[key]);
  if ("cause" in error) printed.cause = redactDeep(source.cause, depth + 1, within, true);
  if (Array.isArray(source.errors)) {
    printed.aggregateErrors = source.errors.map((item: unknown) => redactDeep(item, depth + 1, within, true));
  }
  return printed;
}
