/** A structured log call: pino's `(obj, msg)` and `(msg)` shapes. */
export interface LogFn {
  (object: Record<string, unknown>, message?: string): void;
  (message: string): void;
}

/**
 * The logging seam. pino's logger satisfies it; core depends on no logger implementation.
 * Callers never pass raw endpoint URLs or tokens: use `maskEndpoint` / `redact` first.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop = (() => {}) as LogFn;

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
