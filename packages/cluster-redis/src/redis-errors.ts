/**
 * Why Redis failed, as a log line may show it: never the password of the `cluster.redis` URL (nor
 * any URL's), and a refusal of the credentials said in words, with Redis's own reply after it.
 */
export function redisCause(message: string, password = ""): string {
  // The userinfo of any URL, up to the authority's last `@` (a password may hold an `@`).
  let text = message.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@?#]*:)[^\s/?#]*@/gi, "$1***@");
  // As given in the URL and decoded, wherever it stands apart: a short one inside a word gives nothing away.
  for (const form of new Set([password, encodeURIComponent(password)]))
    if (form) text = text.replace(standingAlone(form), "***");
  const refused = /^(WRONGPASS|ERR invalid password|ERR invalid username-password)/i.test(text);
  if (refused || (password && /^NOAUTH\b/.test(text)))
    return `Redis refused the credentials in the cluster.redis URL (${text})`;
  if (/^NOAUTH\b/.test(text))
    return `Redis requires a password, and the cluster.redis URL gives none (${text})`;
  // Redis words a refused command variously (`NOPERM …`, `… can't publish to channel …`).
  if (/can't publish|no permissions|NOPERM/i.test(text))
    return `Redis refused a command to the cluster.redis user: give it the permissions cluster mode needs (${text})`;
  return `Redis: ${text}`;
}

/**
 * What a failed command says: for a transaction Redis aborted (`EXECABORT`), the error of the
 * command it refused to queue, as ioredis keeps it.
 */
export function failureOf(error: unknown): string {
  const { message, previousErrors } = error as Error & { previousErrors?: readonly Error[] };
  const queued = /^EXECABORT\b/.test(message) ? previousErrors?.find((e) => e?.message)?.message : undefined;
  return queued ?? message;
}

/** The password of a Redis URL, decoded; empty when it has none or is no URL. */
export function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return "";
  }
}

/** Whether a command failed before it was written: it provably did nothing. */
export function neverSent(message: string): boolean {
  return /enableOfflineQueue|isn't writeable/.test(message);
}

/** `text` as a pattern, kept from matching inside a word where its edge is a letter or digit. */
function standingAlone(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const before = /^[A-Za-z0-9]/.test(text) ? "(?<![A-Za-z0-9])" : "";
  const after = /[A-Za-z0-9]$/.test(text) ? "(?![A-Za-z0-9])" : "";
  return new RegExp(`${before}${escaped}${after}`, "g");
}
