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
 * secrets such as `token=`, JWTs and bearer tokens.
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
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === "string" ? redact(arg) : arg)) as Parameters<typeof method>,
          );
        },
      },
    },
    options.destination,
  );
}

function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redact(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { type: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}
