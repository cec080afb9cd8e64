import { XiaozhiError } from "@xiaozhi-connect/core";

/**
 * Close codes after which reconnecting cannot help until the config changes: 1008 is how
 * self-hosted relays reject a bad token; 4001/4003/4401/4403 are the common auth variants.
 */
const permanentCloseCodes: ReadonlySet<number> = new Set([1008, 4001, 4003, 4401, 4403]);

/** Classifies a close of an open link: everything but auth/policy closes is worth a retry. */
export function classifyClose(
  code: number,
  reason: string,
): { code: number; reason: string; retryable: boolean } {
  return { code, reason, retryable: !permanentCloseCodes.has(code) };
}

/** Classifies an HTTP status answered to the WebSocket upgrade. */
export function classifyUpgradeStatus(status: number): XiaozhiError {
  if (status === 401 || status === 403) {
    return new XiaozhiError("AUTH_REJECTED", `endpoint rejected the token (HTTP ${status})`, { status });
  }
  return new XiaozhiError("CONNECT_FAILED", `endpoint answered the upgrade with HTTP ${status}`, { status });
}
