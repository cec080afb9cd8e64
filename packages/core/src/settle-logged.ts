import { describeError } from "./errors.js";
import type { Logger } from "./logger.js";
import { redact } from "./mask.js";

/**
 * Runs `step` and resolves once it has settled, never rejecting: a throw or a rejection is logged
 * (`<what> failed`, redacted). For shutdowns, where one part that fails to stop must not keep the
 * parts after it running.
 */
export async function settleLogged(logger: Logger, what: string, step: () => unknown): Promise<void> {
  try {
    await step();
  } catch (error) {
    logger.error({ err: redact(describeError(error)) }, `${what} failed`);
  }
}
