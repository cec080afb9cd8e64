// Who changed what: the server's audit trail, newest first, read again after every config change.
// Names and ids only, as the server keeps them; the words around them in the page's language.
import { data, format, t } from "./i18n.js";
import { $, call, clock, el, render, show } from "./page.js";
import { explain } from "./reasons.js";

let entries = [];

function what(change) {
  if (change.what === "more") return format("auditMore", { count: change.count });
  const subject = t(`auditWhat.${change.what}`);
  const name = change.name === undefined ? [] : [data(change.name)];
  if (!change.change) return format("auditAction", { subject, name });
  return format("auditChange", { subject, name, change: t(`auditChanges.${change.change}`) });
}

function describe(entry) {
  if (entry.action === "start") return format("auditStart", entry.counts ?? {});
  const action = t(`auditActions.${entry.action}`);
  const changes = (entry.changes ?? []).flatMap((change, i) => [...(i ? ["; "] : []), ...what(change)]);
  return changes.length ? [action, ": ", ...changes] : [action];
}

export function renderAudit() {
  $("audit").replaceChildren(
    ...entries.map((entry) => {
      const who = [t(`auditSources.${entry.source}`) || entry.source];
      if (entry.address) who.push(" ", data(entry.address));
      const outcome = el("span", {
        className: `state ${entry.outcome === "applied" || entry.outcome === "ok" ? "up" : "failed"}`,
        textContent: t(`auditOutcomes.${entry.outcome}`),
      });
      const line = el(
        "li",
        {},
        el("span", { className: "time", textContent: clock(entry.at) }),
        el("span", { className: "who" }, ...render(who)),
        el("span", { className: "what" }, ...render(describe(entry))),
        outcome,
      );
      if (entry.error) {
        // Why a change was refused, in the page's language, as the config's own reason is shown.
        const reason = el("span", { className: "reason" });
        show(reason, explain(entry.error));
        line.append(reason);
      }
      return line;
    }),
  );
  $("no-audit").hidden = entries.length > 0;
}

/** Reads the latest entries: at load, and after each config change (any source). */
export async function loadAudit() {
  try {
    entries = (await call("GET", "/api/audit?limit=50")).entries;
    renderAudit();
  } catch {
    // The next config event tries again.
  }
}
