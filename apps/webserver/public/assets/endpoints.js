// Endpoints: one row per endpoint of the page shown, made once and then updated cell by cell; the
// header's summary, the rejected-config banner and the cluster's instances. Ten thousand endpoints
// are pages of a hundred, filtered by state or text: only the page's rows are in the document, so a
// reconnect storm costs what the page shows, not what the list holds.

import { loadAudit } from "./audit.js";
import { agoText, fillRow, makeRow, reconnectText, rows, showTapOf, taps } from "./endpoint-rows.js";
import { countGivenAgain } from "./given.js";
import { openHistory } from "./history.js";
import { data, format, lang, t, word } from "./i18n.js";
import {
  $,
  call,
  el,
  forgetEndpoint,
  onFlush,
  render,
  schedule,
  setText,
  show,
  showError,
  shownName,
  state,
} from "./page.js";
import { explain } from "./reasons.js";
import { pageSize } from "./stream.js";

/** Rows of the page shown, by endpoint id (made and filled in endpoint-rows.js). */
export { rows };

const dirty = new Set();
let summaryDirty = false;

export { pageSize };

/** What is shown: the filter, the page, and the ids that match, in list order. */
const view = { state: "", q: "", page: 0, ids: [], matching: new Set() };
/** The matching ids must be found again (an endpoint came or went, or the filter changed). */
let viewDirty = true;

const filtered = () => view.state !== "" || view.q !== "";

/** Marks an endpoint's row (or only the summary) to be redrawn at the next frame. */
export function markEndpoint(id) {
  if (id !== undefined) {
    dirty.add(id);
    // A change of state moves an endpoint in or out of a filtered view; one that came or went
    // changes any view.
    if (filtered() || !view.matching.has(id) || !state.endpoints.has(id)) viewDirty = true;
  }
  summaryDirty = true;
  schedule();
}

function matches(e, needle) {
  if (view.state === "down" ? e.connected : view.state !== "" && e.state !== view.state) return false;
  if (!needle) return true;
  return (
    e.id.toLowerCase().includes(needle) ||
    e.url.toLowerCase().includes(needle) ||
    (e.name?.toLowerCase().includes(needle) ?? false) ||
    (shownName(e.name)?.toLowerCase().includes(needle) ?? false)
  );
}

function findMatching() {
  viewDirty = false;
  const needle = view.q.toLowerCase();
  view.ids = filtered()
    ? [...state.endpoints.values()].filter((e) => matches(e, needle)).map((e) => e.id)
    : [...state.endpoints.keys()];
  view.matching = new Set(view.ids);
  // While the rest of the list is still coming (after a reconnect, say), the page shown stays.
  if (state.more > 0) return;
  const last = Math.max(0, Math.ceil(view.ids.length / pageSize) - 1);
  if (view.page > last) view.page = last;
}

/** Puts the page's rows in the table, in order: kept rows move, others are made or dropped. */
function showPage() {
  const ids = view.ids.slice(view.page * pageSize, (view.page + 1) * pageSize);
  const shown = new Set(ids);
  for (const [id, row] of rows) {
    if (shown.has(id)) continue;
    row.tr.remove();
    row.details?.remove();
    rows.delete(id);
  }
  const fragment = document.createDocumentFragment();
  for (const id of ids) {
    const e = state.endpoints.get(id);
    let row = rows.get(id);
    if (!row) {
      row = makeRow(e);
      if (state.open.has(id)) void openHistory(id, false);
    } else if (dirty.has(id)) fillRow(row, e);
    fragment.append(row.tr);
    if (row.details) fragment.append(row.details);
  }
  $("endpoints").replaceChildren(fragment);
  renderPager();
}

function renderPager() {
  // Until the rest of the list has come, unfiltered pages count what is still to come.
  const total = view.ids.length + (filtered() ? 0 : state.more);
  const all = state.endpoints.size + state.more;
  $("endpoint-filter").hidden = all <= 10 && !filtered();
  $("no-match").hidden = total > 0 || all === 0 || state.more > 0;
  $("endpoint-pager").hidden = total <= pageSize && view.page === 0;
  const from = total === 0 ? 0 : view.page * pageSize + 1;
  const to = Math.min(total, (view.page + 1) * pageSize);
  setText($("page-range"), t("pageRange", { from, to, total }));
  $("page-prev").disabled = view.page === 0;
  $("page-next").disabled = to >= total;
}

/** The state filter's choices, in the page's language. */
function renderStateFilter() {
  const select = $("endpoint-state");
  const choices = [
    ["", t("allStates")],
    ["down", t("notConnected")],
    ...["connected", "connecting", "reconnecting", "disconnected", "failed"].map((s) => [
      s,
      word("states", s),
    ]),
  ];
  select.replaceChildren(...choices.map(([value, label]) => el("option", { value }, label)));
  select.value = view.state;
}

/** Counts again after the tools, the limits or the language changed; rows are redrawn. */
export function recountGiven() {
  countGivenAgain();
  for (const id of rows.keys()) dirty.add(id);
  schedule();
}

onFlush(() => {
  if (viewDirty) {
    for (const id of dirty) {
      if (state.endpoints.has(id)) continue;
      state.open.delete(id);
      forgetTap(id);
    }
    findMatching();
    showPage();
  } else {
    for (const id of dirty) {
      const row = rows.get(id);
      const e = state.endpoints.get(id);
      if (row && e) fillRow(row, e);
    }
  }
  dirty.clear();
  if (summaryDirty) renderSummary();
});

/** Every row made anew (a snapshot, a new language). */
export function rebuildEndpoints() {
  for (const row of rows.values()) {
    row.tr.remove();
    row.details?.remove();
  }
  rows.clear();
  dirty.clear();
  renderStateFilter();
  findMatching();
  showPage();
  renderSummary();
}

function goTo(page) {
  view.page = page;
  findMatching();
  showPage();
}

$("page-prev").addEventListener("click", () => goTo(view.page - 1));
$("page-next").addEventListener("click", () => goTo(view.page + 1));
$("endpoint-state").addEventListener("change", (event) => {
  view.state = event.target.value;
  goTo(0);
});
$("endpoint-search").addEventListener("input", (event) => {
  view.q = event.target.value.trim();
  goTo(0);
});

/** More of the list came after the snapshot: the view and the counts are redrawn at the next frame. */
export function markListGrew() {
  viewDirty = true;
  summaryDirty = true;
  schedule();
}

/** Countdowns, uptimes and error ages tick locally; no polling of the server. */
export function tickEndpoints() {
  for (const [id, row] of rows) {
    const e = state.endpoints.get(id);
    if (!e) continue;
    setText(row.cells.countdown, reconnectText(e));
    setText(row.cells.ago, agoText(e));
  }
}

let bannerShown = "";

export function renderSummary() {
  summaryDirty = false;
  let connected = 0;
  for (const e of state.endpoints.values()) if (e.connected) connected++;
  let total = state.endpoints.size;
  // Until the rest of the list has come, the counts are the server's, taken with the snapshot.
  if (state.more > 0 && state.status?.endpoints) ({ connected, total } = state.status.endpoints);
  $("no-endpoints").hidden = total > 0;
  setText($("endpoint-count"), t("connectedOf", { connected, total }));
  const s = state.status;
  const tools = state.tools.filter((x) => x.enabled && !x.unavailable).length;
  setText(
    $("summary"),
    (s ? `${t("version", { version: s.version })} · ` : "") +
      t("summary", { connected, total, count: tools }),
  );
  if (!s) return;
  const c = s.config;
  const fromEnv = c.fromEnv ?? [];
  const where = c.path ? format("configPath", { path: data(c.path) }) : [t("demoMode")];
  // Which values the environment gives (names only, never a value), as secrets kept out of the file.
  if (fromEnv.length) where.push(...format("fromEnv", { count: fromEnv.length }));
  // Blocks read only at the start (cluster, strategies, webUI) that changed since: not in force yet.
  const restart = c.restartNeeded ?? [];
  if (restart.length) where.push(...format("restartNeeded", { blocks: data(restart.join(", ")) }));
  const unknown = c.unknownFields ?? [];
  const key = `${lang()}\u0000${c.path}\u0000${c.lastError}\u0000${JSON.stringify([fromEnv, unknown, restart])}`;
  if (bannerShown === key) return;
  bannerShown = key;
  // A misspelt field is ignored, the setting it was for missing: in sight until the file is fixed.
  $("unknown-banner").hidden = unknown.length === 0;
  $("unknown-list").replaceChildren(
    ...unknown.map(({ path, meant, xiaozhiClient }) => {
      const item = document.createElement("li");
      const values = { field: data(path), meant: data(meant ?? "") };
      show(
        item,
        format(xiaozhiClient ? "xiaozhiClientField" : meant ? "unknownFieldMeant" : "unknownField", values),
      );
      return item;
    }),
  );
  show($("config"), where);
  if (fromEnv.length) {
    $("config").title = fromEnv
      .map((r) => `${r.path} ← ${r.variables.map((v) => `\${${v}}`).join(" ")}`)
      .join("\n");
  }
  // A rejected config stays in sight until the file is read successfully again.
  $("config-banner").hidden = !c.lastError;
  if (!c.lastError) return;
  show($("config-reason"), explain(c.lastError));
  $("config-copy").dataset.text = c.lastError;
  $("config-file").replaceChildren(...(c.path ? render(format("configFile", { path: data(c.path) })) : []));
}

// ---- Adding, removing and reconnecting ----
$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("add-url");
  $("form-error").textContent = "";
  $("add-button").disabled = true;
  try {
    const name = $("add-name").value.trim();
    const { endpoint } = await call("POST", "/api/endpoints", {
      url: input.value.trim(),
      ...(name ? { name } : {}),
    });
    input.value = "";
    $("add-name").value = "";
    state.endpoints.set(endpoint.id, endpoint);
    markEndpoint(endpoint.id);
  } catch (error) {
    showError($("form-error"), error);
  } finally {
    $("add-button").disabled = false;
  }
});

$("endpoints").addEventListener("click", async (event) => {
  const target = event.target.closest("button[data-action]");
  if (!target || target.dataset.action === "fold" || target.dataset.action === "copy") return;
  const id = target.closest("tr").dataset.id;
  try {
    if (target.dataset.action === "remove") {
      const e = state.endpoints.get(id);
      const url = e ? (e.name ? `${shownName(e.name)} (${e.url})` : e.url) : id;
      if (!confirm(t("confirmRemove", { url }))) return;
      await call("DELETE", `/api/endpoints/${encodeURIComponent(id)}`);
      forgetEndpoint(id);
      markEndpoint(id);
    } else if (target.dataset.action === "history") {
      await openHistory(id);
    } else {
      await reconnect(target);
    }
  } catch (error) {
    showError($("form-error"), error);
  }
});

/** How long the answer to a reconnect stays on the card, ms. */
const noteMs = 6000;
/** How long a reconnect under way waits for its outcome on the card, at most, ms. */
const outcomeMs = 60000;

/** An endpoint's tap is over: its note goes. */
function forgetTap(id) {
  clearTimeout(taps.get(id)?.timer);
  taps.delete(id);
  showTapOf(id);
}

/**
 * Sets what the card says of `tap` (unless a newer tap, or the endpoint's removal, came since) and,
 * with `ms`, for how long from now.
 */
function sayOnTap(id, tap, say, error, ms) {
  if (taps.get(id) !== tap) return;
  tap.say = say;
  tap.error = error;
  tap.seq++;
  if (ms !== undefined) {
    clearTimeout(tap.timer);
    tap.timer = setTimeout(() => {
      if (taps.get(id) === tap) forgetTap(id);
    }, ms);
  }
  showTapOf(id);
}

/**
 * Asks for a reconnect and says so on the card, then what came of it (endpoint-rows.js): a failed
 * link may look the same before and after (the cloud refuses it again), so the tap gets an answer
 * of its own, or why it was refused. The tap is kept by endpoint id, so a card made anew meanwhile
 * (a snapshot, a language, a page) says it too.
 */
async function reconnect(button) {
  const id = button.closest("tr").dataset.id;
  clearTimeout(taps.get(id)?.timer);
  const tap = {
    before: state.endpoints.get(id) ?? {},
    seq: 0,
    answered: (words, error) => {
      tap.before = undefined;
      sayOnTap(id, tap, (note) => setText(note, words()), error, noteMs);
    },
  };
  taps.set(id, tap);
  sayOnTap(id, tap, (note) => note.replaceChildren(), false, outcomeMs);
  button.disabled = true;
  try {
    await call("POST", `/api/endpoints/${encodeURIComponent(id)}/reconnect`);
    // Unless the outcome came first.
    if (tap.before) sayOnTap(id, tap, (note) => setText(note, t("reconnectRequested")), false);
  } catch (error) {
    tap.before = undefined;
    sayOnTap(id, tap, (note) => showError(note, error), true, noteMs);
  } finally {
    button.disabled = false;
    // Asked for or refused, the request is in the changes.
    void loadAudit();
  }
}
