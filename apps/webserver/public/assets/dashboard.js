// The dashboard. State comes from one event stream (GET /api/events): a snapshot (with the first
// page of endpoints; the rest of the list follows in pieces), then one event per change. Changes
// are applied to the DOM once per animation frame, and only to the rows that changed.
import { loadAudit, renderAudit } from "./audit.js";
import { callMade, loadCallLog, renderCallLog } from "./call-log.js";
import { loadClients, renderClients } from "./clients.js";
import {
  markEndpoint,
  markListGrew,
  rebuildEndpoints,
  recountGiven,
  renderSummary,
  tickEndpoints,
} from "./endpoints.js";
import { loadHistory, markCharts } from "./history.js";
import { lang, pickLanguage, setLanguage, t } from "./i18n.js";
import { renderCluster } from "./instances.js";
import { $, call, forgetEndpoint, state } from "./page.js";
import { refreshServiceForm, renderServices, tickServices } from "./services.js";
import { askForToken, setUpSignIn, translateSignIn } from "./sign-in.js";
import { events } from "./stream.js";
import { addCall, renderCalls, renderTools, setCalls } from "./tools.js";

const query = new URLSearchParams(location.search).get("lang");
if (query) localStorage.setItem("xz-lang", query);
setLanguage(
  pickLanguage({
    query,
    saved: localStorage.getItem("xz-lang"),
    languages: navigator.languages?.length ? navigator.languages : [navigator.language],
    // Mainland China is 8 hours (Ürümqi 6) ahead of UTC all year. Elsewhere the zone's name,
    // whose reading loads the browser's locale data (tens of ms), is not needed.
    timeZone: () =>
      [-480, -360].includes(new Date().getTimezoneOffset())
        ? Intl.DateTimeFormat().resolvedOptions().timeZone
        : "",
  }),
);

// Headings of the cards' details on narrow screens, one custom property per column, so no row
// carries a label of its own.
const cardLabels = {
  "endpoint-table": { health: "health", rtt: "rtt", countdown: "reconnect", error: "lastError" },
  "service-table": {
    runs: "runs",
    state: "state",
    count: "tools",
    restarts: "restarts",
    uptime: "uptime",
    why: "why",
  },
  tools: { desc: "description", calls: "calls", errors: "errorCount" },
  "instance-table": { held: "held" },
  "client-table": { limits: "clientLimits" },
};

function translatePage() {
  document.documentElement.lang = lang();
  $("lang").value = lang();
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  translateSignIn();
  for (const node of document.querySelectorAll("[data-i18n-placeholder]"))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]"))
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const [table, labels] of Object.entries(cardLabels))
    for (const [name, key] of Object.entries(labels))
      $(table).style.setProperty(`--label-${name}`, JSON.stringify(t(key)));
}

$("lang").addEventListener("change", () => {
  setLanguage($("lang").value);
  localStorage.setItem("xz-lang", lang());
  translatePage();
  recountGiven();
  rebuildEndpoints();
  renderServices();
  renderTools();
  renderCalls();
  renderCluster();
  renderClients();
  renderAudit();
  renderCallLog();
  refreshServiceForm();
  // While the box asks for the token, `translateSignIn` said so.
  if ($("auth").hidden)
    $("live").textContent = t($("live").className === "on" ? "live" : "reconnectingServer");
});

// The per-endpoint tool limits come with the status; a reload may change them.
function setStatus(status) {
  state.status = status;
  state.filters = new Map(Object.entries(status?.toolFilters ?? {}));
  recountGiven();
}

async function refreshStatus() {
  try {
    setStatus(await call("GET", "/api/status"));
  } catch {
    // The stream's next snapshot brings it.
  }
}

/**
 * Marks what the page shows as out of date while the stream is down (greyed, counters stopped: an
 * uptime counting on while nothing is known would be a guess), and as current again with a snapshot.
 */
let stale = false;
function markStale(on) {
  stale = on;
  document.querySelector("main").classList.toggle("stale", on);
}

const handlers = {
  snapshot(data) {
    markStale(false);
    state.endpoints = new Map(data.endpoints.map((e) => [e.id, e]));
    state.more = data.more ?? 0;
    state.tools = data.tools;
    state.services = data.services ?? [];
    setCalls(data.calls ?? []);
    state.toolStats = new Map((data.toolStats ?? []).map((s) => [s.name, s]));
    state.cluster = data.status?.cluster ?? null;
    setStatus(data.status);
    rebuildEndpoints();
    renderCluster();
    renderServices();
    renderTools();
    renderCalls();
    void loadClients();
    void loadAudit();
    loadCallLog();
  },
  // The rest of the snapshot's list, in list order, a piece at a time.
  endpoints({ endpoints, more }) {
    for (const e of endpoints) state.endpoints.set(e.id, e);
    state.more = more;
    markListGrew();
  },
  endpoint(e) {
    const before = state.endpoints.get(e.id);
    state.endpoints.set(e.id, e);
    // An open history gains a period when the link goes up or down.
    if (state.open.has(e.id) && before && before.connected !== e.connected) void loadHistory(e.id);
    markEndpoint(e.id);
  },
  removed({ id }) {
    forgetEndpoint(id);
    state.history.delete(id);
    markEndpoint(id);
  },
  tools({ tools }) {
    state.tools = tools;
    recountGiven();
    renderTools();
    markEndpoint();
    // Each agent's measured list (its size, its maxTools) comes with the status.
    void refreshStatus();
  },
  cluster(view) {
    state.cluster = view;
    renderCluster();
  },
  services({ services }) {
    state.services = services;
    renderServices();
    renderTools();
  },
  config(config) {
    if (state.status) state.status = { ...state.status, config };
    markEndpoint();
    renderSummary();
    void refreshStatus();
    void loadClients();
    void loadAudit();
  },
  sample({ id, point }) {
    const history = state.history.get(id);
    if (!history || !state.open.has(id)) return;
    const last = history.points[history.points.length - 1];
    if (last && last.at === point.at) history.points[history.points.length - 1] = point;
    else history.points.push(point);
    if (history.points.length > 120) history.points.shift();
    markCharts(id);
  },
  call({ call: record, stats }) {
    addCall(record, stats);
    callMade();
  },
};

/** How long events are handled before the page gets a turn, ms. */
const sliceMs = 8;
/** A turn for the page: a message to itself where `scheduler.yield` is missing (timers are throttled). */
function yieldToPage() {
  if (globalThis.scheduler?.yield) return scheduler.yield();
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

async function follow() {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
    let reader;
    try {
      const response = await events();
      if (response.status === 401) {
        void askForToken();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      $("live").className = "on";
      $("live").textContent = t("live");
      delay = 500;
      reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      // Chunks since `buffer` with no end of an event in them: a snapshot of megabytes comes in
      // many chunks, and is joined once when its end comes rather than searched again with each.
      let pending = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let sliceStart = performance.now();
        const before = pending.length > 0 ? pending[pending.length - 1] : buffer;
        if (!(before.slice(-1) + value).includes("\n\n")) {
          pending.push(value);
          continue;
        }
        buffer += pending.join("") + value;
        pending = [];
        // One pass over the chunk: a burst of events costs linear time, not a copy per event.
        let start = 0;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n", start)) {
          const block = buffer.slice(start, end);
          start = end + 2;
          let event = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (handlers[event] && data) handlers[event](JSON.parse(data));
          // A burst (a reconnect storm at ten thousand endpoints) is handled a slice at a time:
          // the page draws and answers between slices.
          // A hidden page draws nothing: it takes the burst whole rather than fall behind.
          if (performance.now() - sliceStart > sliceMs && document.visibilityState === "visible") {
            await yieldToPage();
            sliceStart = performance.now();
          }
        }
        buffer = buffer.slice(start);
      }
    } catch {
      // The server went away (or an event could not be handled); try again with backoff.
    } finally {
      // A stream left on a handler's error would stay open on the server beside the next one.
      reader?.cancel().catch(() => {});
    }
    $("live").className = "off";
    $("live").textContent = t("reconnectingServer");
    markStale(true);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

setUpSignIn({ follow, markStale });

// Countdowns, uptimes and ages tick locally; no polling of the server. Not while the stream is
// down: what they count from may have changed meanwhile.
setInterval(() => {
  if (stale) return;
  tickEndpoints();
  tickServices();
}, 1000);

translatePage();
void follow();
