// What every part of the page shares: the state the event stream fills, DOM helpers, the one
// animation-frame flush, and calls to the API.
import { data, lang, plain, t } from "./i18n.js";
import { apiError, nameEndpoints } from "./reasons.js";
import { authHeaders } from "./stream.js";

/** Everything the event stream said, as the parts of the page read it. */
export const state = {
  endpoints: new Map(),
  /** Endpoints of the list still to come after the snapshot (it holds the first page). */
  more: 0,
  tools: [],
  services: [],
  status: null,
  cluster: null,
  calls: [],
  /** MCP clients allowed on /mcp, without tokens (read from /api/clients, not the stream). */
  clients: [],
  toolStats: new Map(),
  history: new Map(),
  open: new Set(),
  /** Per-endpoint tool limits by id (`{services?, tools?}`), for the endpoints that have one. */
  filters: new Map(),
  /** Names of agents whose endpoints went while the page was open, by id: the changes still name them. */
  formerNames: new Map(),
};

/**
 * An endpoint's name as the page's language says it: the server makes a name from the token's
 * agent id when the config gives none (`agent 12345`), which reads `智能体 12345` in Chinese.
 */
export function shownName(name) {
  const made = name ? /^agent ([\w.-]{1,64})$/.exec(name) : null;
  return made ? t("agentNumbered", { id: made[1] }) : name;
}

/** The agent's name of an endpoint the page has seen, or undefined. */
export const endpointName = (id) => shownName(state.endpoints.get(id)?.name || state.formerNames.get(id));
nameEndpoints(endpointName);

/** An endpoint is gone: its name is kept for what still names it (the changes, a reason). */
export function forgetEndpoint(id) {
  const name = state.endpoints.get(id)?.name;
  if (name) state.formerNames.set(id, name);
  state.endpoints.delete(id);
}

export const $ = (id) => document.getElementById(id);

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) Object.assign(node, props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

export function button(action, label, title, danger) {
  const node = el("button", { type: "button", textContent: label, className: danger ? "danger" : "" });
  if (title) node.title = title;
  node.dataset.action = action;
  return node;
}

/** The fold of a card on a narrow screen; its row gets `open`. */
export function foldButton(open) {
  const node = button("fold", t(open ? "less" : "details"), t("detailsTitle"));
  node.className = "fold";
  node.setAttribute("aria-expanded", String(open));
  return node;
}

/** A button that copies the original text of what sits beside it (kept on the button). */
export function copyButton() {
  const node = el("button", { type: "button", className: "copy", title: t("copyTitle") });
  node.setAttribute("aria-label", t("copyTitle"));
  node.dataset.action = "copy";
  return node;
}

/** Sets text only when it changed, so unchanged cells cost no layout. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Segments as nodes: data (names, addresses, a far side's words) marked as not to be translated,
 * with its `title` when it has one (the id behind an agent's name).
 */
export function render(segments) {
  return segments.map((s) => {
    if (typeof s === "string") return s;
    const node = el("span", { className: "data", translate: false, textContent: s.data });
    if (s.title) node.title = s.title;
    return node;
  });
}

/** Puts segments into `node`, with their text as its title (the whole of what may be cut short). */
export function show(node, segments) {
  node.replaceChildren(...render(segments));
  node.title = plain(segments);
}

export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t("seconds", { s });
  if (s < 3600) return t("minutes", { m: Math.floor(s / 60), s: s % 60 });
  return t("hours", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

// One formatter per language: `toLocaleTimeString` makes a new one at each call, and a page of
// calls or of the audit log formats hundreds of times.
const clocks = new Map();
export function clock(at) {
  let format = clocks.get(lang());
  if (!format) {
    // What `toLocaleTimeString` shows by default: hours, minutes and seconds.
    const options = { hour12: false, hour: "numeric", minute: "numeric", second: "numeric" };
    format = new Intl.DateTimeFormat(lang(), options);
    clocks.set(lang(), format);
  }
  return format.format(at);
}
export const ms = (value) =>
  value == null ? "–" : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

// One flush per animation frame: each part registers what it redraws when marked dirty.
const flushers = [];
let frame = 0;

export function onFlush(fn) {
  flushers.push(fn);
}

export function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  for (const fn of flushers) fn();
}

/** What a failed call throws: the message in the page's language, and the server's own words. */
export class ApiError extends Error {
  constructor(segments, raw) {
    super(plain(segments));
    this.segments = segments;
    this.raw = raw;
  }
}

let onUnauthorized = () => {};
export const whenUnauthorized = (fn) => {
  onUnauthorized = fn;
};

export async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      ...authHeaders(),
      // Named in the audit trail as the dashboard's doing.
      "x-xiaozhi-source": "dashboard",
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    const { code, message } = payload?.error ?? {};
    throw new ApiError(
      code ? apiError(code, message) : [data(message ?? `HTTP ${response.status}`)],
      message ?? "",
    );
  }
  return response.status === 204 ? null : response.json();
}

/** Shows a failed call (or any error) in one of the page's error lines. */
export function showError(node, error) {
  if (error instanceof ApiError) node.replaceChildren(...render(error.segments));
  else node.textContent = error?.message ?? String(error);
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Over plain HTTP beyond loopback the clipboard API is off: the old way still works.
    const area = el("textarea", { value: text, readOnly: true, className: "offscreen" });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

// Cards folded open on a narrow screen, by `data-fold` of their row; kept across redraws.
const unfolded = new Set();
export const isUnfolded = (key) => unfolded.has(key);

/** Marks a row as a card that folds, opened if it was before. */
export function foldable(tr, key) {
  tr.dataset.fold = key;
  const open = unfolded.has(key);
  if (open) tr.classList.add("open");
  return foldButton(open);
}

/** The same for a row cloned with its fold button (`fold`), made folded. */
export function unfoldIfOpen(tr, key, fold) {
  tr.dataset.fold = key;
  if (!unfolded.has(key)) return;
  tr.classList.add("open");
  fold.textContent = t("less");
  fold.setAttribute("aria-expanded", "true");
}

// Taps anywhere: a fold opens or closes, a copy button copies, a cut-short value shows in full.
document.addEventListener("click", (event) => {
  const target = event.target;
  const fold = target.closest?.("button.fold");
  if (fold) {
    const tr = fold.closest("tr");
    const open = tr.classList.toggle("open");
    if (open) unfolded.add(tr.dataset.fold);
    else unfolded.delete(tr.dataset.fold);
    fold.textContent = t(open ? "less" : "details");
    fold.setAttribute("aria-expanded", String(open));
    return;
  }
  const copier = target.closest?.("button.copy");
  if (copier) {
    void copy(copier.dataset.text ?? "").then(() => {
      copier.classList.add("done");
      copier.title = t("copied");
      setTimeout(() => {
        copier.classList.remove("done");
        copier.title = t("copyTitle");
      }, 1500);
    });
    return;
  }
  const clip = target.closest?.(".clip");
  if (clip && !target.closest("button, a, input, select")) clip.classList.toggle("full");
});
