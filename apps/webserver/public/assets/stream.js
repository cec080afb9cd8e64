// The event stream is asked for first, before the rest of the page's code has loaded: this is an
// async module of its own that index.html starts at once (the built page runs it from the head,
// before the body is parsed), and dashboard.js reads what it opened.

// A token passed as #token=… (printed at start) is kept for this tab only and removed from the URL.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  sessionStorage.setItem("xz-token", fromHash);
  history.replaceState(null, "", location.pathname + location.search);
}

/** The bearer token of this tab, as request headers. */
export const authHeaders = () => {
  const token = sessionStorage.getItem("xz-token");
  return token ? { authorization: `Bearer ${token}` } : {};
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
