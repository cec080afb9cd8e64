/**
 * cyrb53: a fast, well-mixed 53-bit string hash. Not cryptographic; used for stable ids and short
 * fingerprints that let people tell endpoints apart without revealing any part of a token.
 */
function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A 6-hex-digit fingerprint of a secret: enough to tell values apart, far too little to recover one. */
export function fingerprint(secret: string): string {
  return (hash53(secret) % 0x1000000).toString(16).padStart(6, "0");
}

/**
 * The one spelling of an endpoint URL, so one endpoint has one identity however it was typed:
 * scheme and host lower-cased, the default port dropped, tabs and line breaks removed (as URL
 * parsing does), empty query parts (`?&token=`) and the fragment dropped. Throws on a non-URL.
 */
export function normalizeEndpointUrl(url: string): string {
  const known = memoOf(url);
  if (known?.canonical !== undefined) return known.canonical;
  const parsed = new URL(url.trim());
  // One spelling per token: an escape of a character a query means the same by either way
  // (`%2F` and `/`, `%7E` and `~`) is undone, and the others' hex digits are put in one case
  // (`%2b` and `%2B`). `+` and `%2B` stay apart: a query reads `+` as a space; `%3B` and `;` too,
  // as older query parsers split at `;` (this is the URL connected to).
  const query = parsed.search
    .slice(1)
    .split("&")
    .filter(Boolean)
    .join("&")
    .replace(/%[0-9a-f]{2}/gi, (percent) => {
      const char = String.fromCharCode(Number.parseInt(percent.slice(1), 16));
      return /^[\w.~!$()*,:@/-]$/.test(char) ? char : percent.toUpperCase();
    });
  parsed.search = query ? `?${query}` : "";
  parsed.hash = "";
  // The URL as given when it is already canonical: what is kept shares one string.
  const canonical = parsed.href === url ? url : parsed.href;
  if (known) known.canonical = canonical;
  return canonical;
}

/**
 * The stable id of an endpoint: `ep-` and 12 hex digits of a hash of its normalised URL (see
 * `normalizeEndpointUrl`), so `WS://Host:80/mcp/?&token=x` and `ws://host/mcp/?token=x` share one.
 */
export function endpointId(url: string): string {
  const known = memoOf(url);
  if (known?.id !== undefined) return known.id;
  let canonical: string;
  try {
    canonical = normalizeEndpointUrl(url);
  } catch {
    // Not a URL: hashed as typed (config validation turns it away).
    return idOf(url.trim());
  }
  const id = idOf(canonical);
  if (known) known.id = id;
  return id;
}

function idOf(canonical: string): string {
  return `ep-${(hash53(canonical) % 2 ** 48).toString(16).padStart(12, "0")}`;
}

/**
 * What was worked out of each URL so far, by the URL as given: ten thousand endpoints are looked up,
 * masked and compared on every apply and every start, and a URL is parsed once, not every time.
 * The oldest is forgotten first when full.
 */
const memo = new Map<string, { canonical?: string; id?: string; masked?: string }>();
const maxKnownUrls = 50_000;
/** Longer URLs are worked out each time: the memo holds at most about 50,000 × 2 KiB. */
const maxKnownLength = 2048;

/** The memo entry of `url`, made when missing; none for a URL too long to keep. */
function memoOf(url: string): { canonical?: string; id?: string; masked?: string } | undefined {
  let known = memo.get(url);
  if (known === undefined && url.length <= maxKnownLength) {
    if (memo.size >= maxKnownUrls) memo.delete(memo.keys().next().value as string);
    known = {};
    memo.set(url, known);
  }
  return known;
}

/**
 * Masks an endpoint URL for display: keeps scheme, host, port and path; every query value and any
 * password becomes `<masked:fingerprint>`. `wss://api.xiaozhi.me/mcp/?token=eyJ…` →
 * `wss://api.xiaozhi.me/mcp/?token=<masked:3f2a1c>`.
 */
export function maskEndpoint(url: string): string {
  const known = memoOf(url);
  if (known?.masked !== undefined) return known.masked;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `<invalid url ${fingerprint(url)}>`;
  }
  const user = parsed.username ? `${parsed.username}${parsed.password ? ":<masked>" : ""}@` : "";
  const query = [...parsed.searchParams]
    .map(([key, value]) => `${key}=${value ? `<masked:${fingerprint(value)}>` : ""}`)
    .join("&");
  const masked = `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}${query ? `?${query}` : ""}`;
  if (known) known.masked = masked;
  return masked;
}

const secretParam =
  /(\b[\w.-]*(?:token|key|secret|auth|password|passwd|signature|sig)[\w.-]*=)([^&\s"'<>#]+)/gi;
/**
 * `scheme://user:password@`, as URL parsing reads it: the username ends at the first `:` (it may
 * hold an `@`), the password runs to the last `@` before the host.
 */
const userinfoPassword = /(\b[a-z][a-z\d+.-]*:\/\/[^\s/?#:"'<>]*):([^\s/?#"'<>]+)@/gi;
/** `host:8004,backup@…` in a list of addresses: a port, not a password. */
const portInList = /^\d+,/;
/**
 * A URL's `#fragment`, which `maskEndpoint` drops: a client-side token may travel there. It ends
 * at the punctuation that closes or separates the URL in text (`(see …#a)`, `…#a, then`).
 */
const fragment = /(\b[a-z][a-z\d+.-]*:\/\/[^\s#"']*)#[^\s"'<>()[\]{},;]*/gi;
const jwt = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const bearer = /\b(Bearer\s+)[\w.~+/=-]+/gi;

/**
 * Removes secrets from free text (error messages, log lines): secret-looking query values, JWTs and
 * bearer credentials are replaced by a masked fingerprint, and in a URL the password becomes
 * `<masked>` and the fragment is dropped. A query value's fingerprint is the one `maskEndpoint`
 * gives it, escaped or not. Idempotent.
 */
export function redact(text: string): string {
  return text
    .replace(fragment, "$1")
    .replace(userinfoPassword, (whole, user: string, password: string) =>
      portInList.test(password) ? whole : `${user}:<masked>@`,
    )
    .replace(secretParam, (_, prefix: string, value: string) =>
      value.startsWith("<masked") ? `${prefix}${value}` : `${prefix}<masked:${fingerprint(decoded(value))}>`,
    )
    .replace(jwt, (token) => `<masked:${fingerprint(token)}>`)
    .replace(bearer, (_, prefix: string) => `${prefix}<masked>`);
}

/** A query value as `URLSearchParams` reads it (`+` a space, escapes decoded), as `maskEndpoint` sees it. */
function decoded(value: string): string {
  return new URLSearchParams(`v=${value}`).get("v") ?? value;
}
