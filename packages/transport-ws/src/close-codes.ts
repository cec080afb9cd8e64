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

/**
 * Classifies an HTTP status answered to the WebSocket upgrade, with its `Retry-After` (seconds or
 * an HTTP date) as the wait the far side asked for.
 */
export function classifyUpgradeStatus(status: number, retryAfter?: string, now = Date.now()): XiaozhiError {
  if (status === 401 || status === 403) {
    return new XiaozhiError("AUTH_REJECTED", `endpoint rejected the token (HTTP ${status})`, { status });
  }
  const retryAfterMs = waitOf(retryAfter, now);
  return new XiaozhiError(
    "CONNECT_FAILED",
    `endpoint answered the upgrade with HTTP ${status}${retryAfterMs === undefined ? "" : ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)`}`,
    { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
  );
}

function waitOf(value: string | undefined, now: number): number | undefined {
  const text = value?.trim() ?? "";
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
