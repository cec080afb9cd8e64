// Who changed what: the server's audit trail, newest first, read again after every config change
// and after each of the page's own actions. Names and ids as the server keeps them (an endpoint by
// its agent's name when the page knows it); the words around them in the page's language.
import { data, format, t } from "./i18n.js";
import { $, call, clock, el, endpointName, render, show } from "./page.js";
import { explain } from "./reasons.js";

let entries = [];

/** What a change is about: an endpoint by its agent's name, its id in the title. */
function nameIn(change) {
  if (change.name === undefined) return [];
  const agent = change.what === "endpoint" ? endpointName(change.name) : undefined;
  return [agent ? { data: agent, title: change.name } : data(change.name)];
}

function what(change) {
  if (change.what === "more") return format("auditMore", { count: change.count });
  const subject = t(`auditWhat.${change.what}`);
  const name = nameIn(change);
  if (!change.change) return format("auditAction", { subject, name });
  return format("auditChange", { subject, name, change: t(`auditChanges.${change.change}`) });
}

function describe(entry) {
  if (entry.action === "start") return format("auditStart", entry.counts ?? {});
  const action = t(`auditActions.${entry.action}`);
  const separator = t("auditSeparator");
  const changes = (entry.changes ?? []).flatMap((change, i) => [...(i ? [separator] : []), ...what(change)]);
  return changes.length ? format("auditLine", { action, changes }) : [action];
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

let loading;
let again = false;

/**
 * Reads the latest entries: at load, after each config change (any source) and after the page's
 * own actions. One read at a time; asked again meanwhile, it reads once more when that one ends.
 */
export function loadAudit() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = call("GET", "/api/audit?limit=50")
    .then(({ entries: latest }) => {
      entries = latest;
      renderAudit();
    })
    .catch(() => {
      // The next config event or action tries again.
    })
    .finally(() => {
      loading = undefined;
      if (again) {
        again = false;
        void loadAudit();
      }
    });
  return loading;
}
