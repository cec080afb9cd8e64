// The opt-in call log: off unless the user turns it on, for an hour; while on, a banner says so
// and the latest calls show with their (masked) arguments and results.
import { loadAudit } from "./audit.js";
import { t } from "./i18n.js";
import { $, call, clock, el, setText, showError } from "./page.js";

let state = { on: false };
let entries = [];
let reloading;

function render() {
  $("call-log-on").hidden = state.on;
  $("call-log-off").hidden = !state.on;
  $("call-log-banner").hidden = !state.on;
  if (state.on) setText($("call-log-until"), t("callLogUntil", { time: clock(state.until) }));
  $("call-log").replaceChildren(
    ...entries.map((entry) =>
      el(
        "li",
        {},
        el("span", { className: "time", textContent: clock(entry.at) }),
        el("span", { className: "who", translate: false, textContent: entry.agent ?? entry.endpoint ?? "" }),
        el("span", { className: "what", translate: false, textContent: `${entry.tool} · ${entry.ms} ms` }),
        el("code", {
          className: "reason",
          translate: false,
          title: t("callLogArgs"),
          textContent: entry.arguments,
        }),
        el("code", {
          className: "reason",
          translate: false,
          title: t("callLogResult"),
          textContent: entry.result ?? entry.error ?? "",
        }),
      ),
    ),
  );
}

/** Reads the state and the entries: at load, and (while on) after calls, at most a few times a second. */
export function loadCallLog() {
  if (reloading) return;
  reloading = new Promise((resolve) => setTimeout(resolve, 300))
    .then(() => call("GET", "/api/call-log"))
    .then((answer) => {
      state = answer.state;
      entries = answer.entries;
      render();
    })
    .catch(() => {})
    .finally(() => {
      reloading = undefined;
    });
}

/** A call was made: worth reading again only while the log is on. */
export const callMade = () => state.on && loadCallLog();

/** The page's language changed. */
export const renderCallLog = render;

const toggle = (method, body) => async () => {
  $("call-log-error").textContent = "";
  try {
    const answer = await call(method, "/api/call-log", body);
    state = answer?.state ?? { on: false };
    if (!state.on) entries = [];
    render();
  } catch (error) {
    showError($("call-log-error"), error);
  }
  // Turned on, off or refused: the changes say so (no event of the stream does).
  void loadAudit();
};
$("call-log-on").addEventListener("click", toggle("POST", { minutes: 60 }));
$("call-log-off").addEventListener("click", toggle("DELETE"));
// Past its time the server has turned it off: so does the page.
setInterval(() => {
  if (state.on && state.until <= Date.now()) loadCallLog();
}, 5000);
