// Services: their state, restarts and why one is down; added, edited and removed from the form.
import { loadAudit } from "./audit.js";
import { data, format, t, word } from "./i18n.js";
import {
  $,
  button,
  call,
  copyButton,
  duration,
  el,
  foldable,
  render,
  setText,
  show,
  showError,
  state,
} from "./page.js";
import { explain } from "./reasons.js";

let editing = null;

/** What a service runs, as its words: the command and its arguments, or the transport and URL. */
function serviceRuns(s) {
  const c = s.config;
  if (!c || c.type === "replicated") return [];
  if (c.type === "stdio") return [c.command, ...(c.args ?? [])];
  return [c.type, c.url];
}

/**
 * The command as code, one span per argument: on a card it wraps between arguments, never inside
 * one; on a wide screen it is one line, cut short.
 */
function runsCode(words) {
  const text = words.join(" ");
  const code = el("code", { className: "clip", translate: false, title: text });
  code.append(...words.flatMap((word, i) => [...(i ? [" "] : []), el("span", { textContent: word })]));
  return code;
}

const uptime = (s) => (s.upSince ? duration(Date.now() - s.upSince) : "–");

export function renderServices() {
  $("services").replaceChildren(
    ...state.services.map((s) => {
      const runs = serviceRuns(s);
      const replicas =
        s.config?.type === "replicated"
          ? t("replicas", {
              // A replica taken out of the config finishes its calls first; it is not one of them.
              up: (s.replicas ?? []).filter((r) => r.state === "connected" && !r.draining).length,
              total: s.config.replicas,
            })
          : "";
      const why = el("td", { className: "why" });
      if (s.lastError) {
        const reason = el("div", { className: "reason clip" });
        show(reason, explain(s.lastError));
        const copy = copyButton();
        copy.dataset.text = s.lastError;
        why.append(copy, reason);
      }
      const tr = el("tr", {});
      // Replicated services are edited in the file; the form knows one command or one URL.
      const actions = [button("restart", t("restart"), t("restartTitle"))];
      if (s.config && s.config.type !== "replicated") actions.push(button("edit", t("edit")));
      if (s.config) actions.push(button("remove", t("remove"), "", true));
      tr.append(
        el(
          "td",
          { className: "who" },
          el("span", { className: "name", translate: false, textContent: s.name }),
        ),
        el("td", { className: "runs" }, runs.length ? runsCode(runs) : replicas),
        el(
          "td",
          { className: "st" },
          el("span", { className: `state ${s.state}`, textContent: word("states", s.state) }),
        ),
        el("td", { className: "num count" }, String(s.tools)),
        el("td", { className: "num restarts" }, String(s.restarts)),
        el("td", { className: "uptime" }, uptime(s)),
        why,
        el("td", { className: "actions" }, ...actions, foldable(tr, `service:${s.name}`)),
      );
      tr.dataset.service = s.name;
      tr.dataset.state = s.state;
      return tr;
    }),
  );
  $("no-services").hidden = state.services.length > 0;
  setText(
    $("service-count"),
    t("servicesUp", {
      up: state.services.filter((s) => s.state === "up").length,
      total: state.services.length,
    }),
  );
}

export function tickServices() {
  for (const tr of $("services").children) {
    const s = state.services.find((x) => x.name === tr.dataset.service);
    if (s) setText(tr.querySelector(".uptime"), uptime(s));
  }
}

export function setServiceForm(service) {
  editing = service;
  const c = service?.config ?? { type: "stdio" };
  $("service-name").value = service?.name ?? $("service-name").value;
  $("service-name").disabled = Boolean(service);
  if (service) {
    $("service-type").value = c.type === "stdio" ? "stdio" : c.type;
    $("service-command").value = c.command ?? "";
    $("service-args").value = (c.args ?? []).join("\n");
    $("service-url").value = c.url ?? "";
  }
  showServiceFields();
  setText($("service-save"), service ? t("saveService", { name: service.name }) : t("addService"));
  $("service-cancel").classList.toggle("hidden", !service);
}

/** The form as it is, in the page's language (after a switch). */
export const refreshServiceForm = () => setServiceForm(editing);

function showServiceFields() {
  const stdio = $("service-type").value === "stdio";
  $("service-command").classList.toggle("hidden", !stdio);
  $("service-args").classList.toggle("hidden", !stdio);
  $("service-url").classList.toggle("hidden", stdio);
}
$("service-type").addEventListener("change", showServiceFields);
$("service-cancel").addEventListener("click", () => {
  $("service-form").reset();
  setServiceForm(null);
});

/**
 * The entry the form saves: when editing, the service's entry as the API shows it now with the
 * form's fields put in, so what the form does not show (`cwd`, timeouts) is written back as it was.
 * `env` and `headers` come as names only and are left out: the server keeps their values. A changed
 * transport starts afresh, as the old one's fields mean nothing to the new.
 */
function entryFromForm(current) {
  const type = $("service-type").value;
  const shown = current?.config;
  const {
    type: _type,
    env: _env,
    headers: _headers,
    ...kept
  } = shown && (shown.type === "stdio") === (type === "stdio") ? shown : {};
  if (type !== "stdio") return { ...kept, type, url: $("service-url").value.trim() };
  return {
    ...kept,
    command: $("service-command").value.trim(),
    args: $("service-args")
      .value.split("\n")
      .map((a) => a.trim())
      .filter(Boolean),
  };
}

$("service-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("service-error").textContent = "";
  // As the service is now, not as it was when the form opened: the file may have changed since.
  const current = editing && state.services.find((s) => s.name === editing.name);
  if (current?.config?.type === "replicated") {
    $("service-error").replaceChildren(...render(format("replicasInFile", { name: data(current.name) })));
    return;
  }
  const config = entryFromForm(current ?? editing);
  $("service-save").disabled = true;
  try {
    if (editing) await call("PUT", `/api/services/${encodeURIComponent(editing.name)}`, config);
    else await call("POST", "/api/services", { name: $("service-name").value.trim(), config });
    $("service-form").reset();
    setServiceForm(null);
  } catch (error) {
    showError($("service-error"), error);
  } finally {
    $("service-save").disabled = false;
  }
});

$("services").addEventListener("click", async (event) => {
  const target = event.target.closest("button[data-action]");
  if (!target || target.dataset.action === "fold" || target.dataset.action === "copy") return;
  const name = target.closest("tr").dataset.service;
  const service = state.services.find((s) => s.name === name);
  $("service-error").textContent = "";
  try {
    if (target.dataset.action === "restart") {
      // A restart changes no config: the changes are read again here, not on a config event.
      await call("POST", `/api/services/${encodeURIComponent(name)}/restart`).finally(() => void loadAudit());
    } else if (target.dataset.action === "edit") {
      setServiceForm(service);
      $("service-form").scrollIntoView({ block: "nearest" });
    } else if (target.dataset.action === "remove") {
      if (!confirm(t("confirmRemoveService", { name }))) return;
      await call("DELETE", `/api/services/${encodeURIComponent(name)}`);
      if (editing?.name === name) setServiceForm(null);
    }
  } catch (error) {
    showError($("service-error"), error);
  }
});
