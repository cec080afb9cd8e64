// The event stream is asked for first, before the rest of the page's code has loaded: this is an
// async module of its own that index.html starts at once (the built page runs it from the head,
// before the body is parsed), and dashboard.js reads what it opened.

const key = "xz-token";

/**
 * Whether `value` can go in a request header as a bearer token: printable ASCII, no space at either
 * end. A browser sends nothing else in a header; a token with other characters (the config takes
 * any) signs in through `POST /api/login` instead, as the login page does.
 */
export const sendable = (value) => /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value);

/** A token given to this tab that cannot go in a header: held here, never stored, for `takeGiven`. */
let given;

// A token passed as #token=… (printed at start) is kept for this tab only and removed from the URL.
// An empty one is ignored.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token")?.trim();
if (fromHash) {
  if (sendable(fromHash)) sessionStorage.setItem(key, fromHash);
  else given = fromHash;
  history.replaceState(null, "", location.pathname + location.search);
}

/** Keeps `token` for this tab; false, keeping nothing, for a value that cannot go in a header. */
export function keepToken(token) {
  if (!sendable(token)) return false;
  sessionStorage.setItem(key, token);
  return true;
}

/** Forgets this tab's token; whether it had one. */
export function forgetToken() {
  const had = sessionStorage.getItem(key) !== null;
  sessionStorage.removeItem(key);
  return had;
}

/** The token given to this tab that cannot go in a header, once; undefined without one. */
export function takeGiven() {
  const value = given;
  given = undefined;
  return value;
}

/**
 * The bearer token of this tab, as request headers. A stored value that cannot go in a header is
 * taken out of storage and held for `takeGiven`: sent, it would make every request fail.
 */
export const authHeaders = () => {
  const token = sessionStorage.getItem(key);
  if (token === null) return {};
  if (sendable(token)) return { authorization: `Bearer ${token}` };
  sessionStorage.removeItem(key);
  given = token;
  return {};
};

/** Rows on one page of endpoints. */
export const pageSize = 100;

// EventSource cannot send an Authorization header, so the stream is read with fetch. The snapshot
// holds the first page of endpoints, the rest follow in pieces: the page draws its rows at once
// rather than after megabytes at ten thousand endpoints.
const openEvents = () => fetch(`/api/events?first=${pageSize}`, { headers: authHeaders() });

let first = openEvents();
// A failure is handled when the stream is read; until then it must not count as unhandled.
first.catch(() => {});

/** The response of `GET /api/events`: the one opened at load the first time, a new one after. */
export function events() {
  const opened = first ?? openEvents();
  first = undefined;
  return opened;
}
