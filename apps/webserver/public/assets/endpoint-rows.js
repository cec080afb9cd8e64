// The endpoints table's rows: each a clone of a template made per language, its cells filled from
// the endpoint and then updated cell by cell.
import { givenTo } from "./given.js";
import { data, format, lang, t, word } from "./i18n.js";
import {
  button,
  copyButton,
  duration,
  el,
  foldButton,
  render,
  setText,
  show,
  shownName,
  unfoldIfOpen,
} from "./page.js";
import { explain } from "./reasons.js";

/** Rows of the page shown, by endpoint id: `{ tr, cells, raw, details, noteSeq }`. */
export const rows = new Map();

/**
 * Taps on Reconnect by endpoint id, apart from the rows (a snapshot, a new language or another page
 * makes them anew): `{ before, say, error, seq, answered }`. `before` is the link as it was at the
 * tap while its outcome is awaited, `answered(words, error)` takes the outcome's words (a function
 * of the language); `say` fills the card's note, changed with `seq`. endpoints.js adds a tap and
 * deletes it when its note's time is up or the endpoint goes.
 */
export const taps = new Map();

/**
 * What was taken off the score and why, said as deductions (`Deductions: disconnected −100`): the
 * parts are negative, and a bare `disconnected -100` read as a range or a sum. A real minus sign.
 */
function healthText(e) {
  const parts = [];
  for (const [k, v] of Object.entries(e.health?.parts ?? {})) {
    const points = Math.round(v);
    if (points !== 0) parts.push(`${word("parts", k)} ${points < 0 ? "\u2212" : "+"}${Math.abs(points)}`);
  }
  const deductions = parts.length ? t("deductions", { parts: parts.join(" · ") }) : "";
  if (!e.health?.ejected) return deductions;
  return deductions ? `${deductions} · ${t("ejected")}` : t("ejected");
}

export function reconnectText(e) {
  if (e.state === "reconnecting" && e.nextReconnectAt) {
    return t("inTime", { time: duration(e.nextReconnectAt - Date.now()), attempt: e.reconnectAttempts + 1 });
  }
  // A rejected token is tried again now and then: when it was refused last, and when it is tried next
  // (a tap on Reconnect is one more try, and changes both).
  if (e.state === "failed" && e.nextReconnectAt) {
    const time = whole(duration(e.nextReconnectAt - Date.now()));
    const since = e.lastErrorAt ? Date.now() - e.lastErrorAt : -1;
    // A refusal "in the future" (the server's clock ahead of this one) has no age to tell.
    if (since < 0) return t("triesAgain", { time });
    const ago = since < 5000 ? t("justNow") : t("ago", { time: duration(since) });
    return t("refusedTriesAgain", { ago: whole(ago), time });
  }
  if (e.connected && e.lastConnected) return t("upFor", { time: duration(Date.now() - e.lastConnected) });
  return e.reconnectAttempts ? t("attempts", { count: e.reconnectAttempts }) : "";
}

/** A duration kept on one line ("5 min 34 s"), where the column wraps the text around it. */
const whole = (text) => text.replaceAll(" ", "\u00a0");

/** A connected link's last error is history: shown greyed, with its age. */
export const agoText = (e) =>
  e.lastError && e.connected && e.lastErrorAt ? t("ago", { time: duration(Date.now() - e.lastErrorAt) }) : "";

// Every row is a clone of one made per language: cloning is far cheaper than building 1,000 rows
// element by element, and the labels are translated once.
let template = null;

function rowTemplate() {
  if (template?.lang === lang()) return template.tr;
  const tr = el(
    "tr",
    {},
    el(
      "td",
      { className: "agent" },
      el(
        "div",
        { className: "who", translate: false },
        el("div", { className: "name" }),
        el("div", { className: "url clip" }),
        el("div", { className: "id" }),
      ),
      el("div", { className: "id" }),
      el("div", { className: "given", title: t("givenTitle") }),
    ),
    el("td", { className: "st" }, el("span")),
    el("td", { className: "health" }, el("div"), el("div", { className: "parts" })),
    el("td", { className: "rtt" }),
    el("td", { className: "countdown" }),
    el(
      "td",
      { className: "error none" },
      el("div", { className: "reason clip" }),
      el("div", { className: "ago" }),
    ),
    el(
      "td",
      { className: "actions" },
      button("reconnect", t("reconnect"), t("reconnectTitle")),
      button("history", t("history"), t("historyTitle")),
      button("remove", t("remove"), t("removeTitle"), true),
      foldButton(false),
    ),
  );
  template = { lang: lang(), tr };
  return tr;
}

export function makeRow(e) {
  const tr = rowTemplate().cloneNode(true);
  const [agent, st, health, rtt, countdown, error, actions] = tr.children;
  const [who, instance, given] = agent.children;
  const [name, url, id] = who.children;
  const cells = {
    name,
    url,
    id,
    instance,
    given,
    state: st.firstChild,
    score: health.firstChild,
    parts: health.lastChild,
    rtt,
    countdown,
    error,
    reason: error.firstChild,
    ago: error.lastChild,
    copy: null,
    actions,
    note: null,
  };
  tr.dataset.id = e.id;
  unfoldIfOpen(tr, `endpoint:${e.id}`, actions.lastChild);
  const row = { tr, cells, raw: undefined, details: null, noteSeq: -1 };
  rows.set(e.id, row);
  fillRow(row, e);
  return row;
}

export function fillRow(row, e) {
  const { tr, cells } = row;
  tr.dataset.state = e.state;
  setText(cells.name, shownName(e.name) || "");
  setText(cells.url, e.url);
  if (cells.url.title !== e.url) cells.url.title = e.url;
  setText(cells.id, e.id);
  // In cluster mode: the instance that holds the endpoint (null while none does).
  if (e.instance !== undefined && tr.dataset.instance !== (e.instance ?? "")) {
    tr.dataset.instance = e.instance ?? "";
    cells.instance.replaceChildren(
      ...render(e.instance ? format("onInstance", { id: data(e.instance) }) : [t("unheld")]),
    );
  }
  const { given: text, over } = givenTo(e.id);
  setText(cells.given, over ? `${text} · ${over}` : text);
  cells.given.classList.toggle("over", Boolean(over));
  // A link reopened so its agent lists changed tools: a planned step, not a reconnect after trouble.
  // Open, but no agent has initialized it: a self-hosted relay does when a device's session starts.
  const shown = e.republishing
    ? "republishing"
    : e.state === "connected" && e.initialized === false
      ? "awaitingAgent"
      : e.state;
  cells.state.className = `state ${shown}`;
  setText(cells.state, word("states", shown));
  // The whole state on hover where the column cuts it.
  if (cells.state.title !== cells.state.textContent) cells.state.title = cells.state.textContent;
  setText(cells.score, String(Math.round(e.healthScore)));
  setText(cells.parts, healthText(e));
  setText(cells.rtt, e.rttMs == null ? "–" : `${e.rttMs.toFixed(1)} ms`);
  setText(cells.countdown, reconnectText(e));
  const raw = e.lastError ?? "";
  if (row.raw !== raw) {
    row.raw = raw;
    if (raw) show(cells.reason, explain(raw));
    else cells.reason.replaceChildren();
    // The copy button is made with the first error: most rows never need one.
    if (raw && !cells.copy) cells.copy = cells.error.insertBefore(copyButton(), cells.reason);
    if (cells.copy) cells.copy.dataset.text = raw;
  }
  const errorClass = raw ? (e.connected ? "error stale" : "error") : "error none";
  if (cells.error.className !== errorClass) cells.error.className = errorClass;
  setText(cells.ago, agoText(e));
  const tap = taps.get(e.id);
  if (tap?.before) answerReconnect(tap, e);
  showTap(row, taps.get(e.id));
}

/**
 * A tap on Reconnect is answered on the card with what came of it, once the stream says: the link
 * is up again (a new connect), or the new try failed too (a new error): refused again where it was
 * refused before the tap. Told apart from the status as it was at the tap, so neither clock needs
 * to agree with the other.
 */
function answerReconnect(tap, e) {
  const { before } = tap;
  if (e.connected && e.lastConnected !== before.lastConnected) {
    tap.answered(() => t("reconnectedNote"), false);
    return;
  }
  if (e.connected || e.state === "connecting" || e.lastErrorAt === before.lastErrorAt) return;
  if (e.state !== "failed" || !e.nextReconnectAt) tap.answered(() => t("stillDownNote"), true);
  else if (before.state === "failed") tap.answered(() => t("refusedAgainNote"), true);
  else tap.answered(() => t("refusedNote"), true);
}

/** The card's note on its tap: made, filled when the tap's words changed, or gone with the tap. */
function showTap(row, tap) {
  const { cells } = row;
  if (!tap) {
    cells.note?.remove();
    cells.note = null;
    return;
  }
  if (!cells.note) {
    cells.note = el("span", { className: "note" });
    cells.note.setAttribute("role", "status");
    cells.actions.append(cells.note);
    row.noteSeq = -1;
  }
  if (row.noteSeq === tap.seq) return;
  row.noteSeq = tap.seq;
  cells.note.className = tap.error ? "note error" : "note";
  tap.say(cells.note);
}

/** Shows what the tap on endpoint `id`'s Reconnect came to, on its card if the page shows it. */
export function showTapOf(id) {
  const row = rows.get(id);
  if (row) showTap(row, taps.get(id));
}
