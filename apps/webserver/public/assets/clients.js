// MCP clients (editors, desktop assistants) allowed on /mcp: listed, added and removed. A new
// client's token is shown once, here, right after it is added; the list never carries tokens.
import { data, format, t } from "./i18n.js";
import { $, button, call, el, setText, showError, state } from "./page.js";

/** The client whose token is on show, until it is hidden. */
let shown = null;

const list = (value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

function limitsOf(c) {
  const parts = [...(c.services ?? []).map((s) => `${s}__*`), ...(c.tools ?? [])];
  return parts.length ? parts.join(", ") : t("allTools");
}

export function renderClients() {
  const clients = state.clients ?? [];
  $("clients").replaceChildren(
    ...clients.map((c) => {
      const tr = el("tr", {});
      tr.dataset.client = c.name;
      const limits = limitsOf(c);
      tr.append(
        el(
          "td",
          { className: "who" },
          el("span", { className: "name", translate: false, textContent: c.name }),
        ),
        el(
          "td",
          { className: "limits" },
          el("span", { className: "clip", translate: false, title: limits, textContent: limits }),
        ),
        el("td", { className: "actions" }, button("remove", t("remove"), t("removeClientTitle"), true)),
      );
      return tr;
    }),
  );
  $("no-clients").hidden = clients.length > 0;
}

/** Reads the clients again: at load and after every config change (an edit of the file included). */
export async function loadClients() {
  try {
    state.clients = (await call("GET", "/api/clients")).clients;
    renderClients();
  } catch {
    // The next config event or reload tries again.
  }
}

/**
 * How to point the new client here: the address and header as code, and the command to run as code
 * that breaks between its arguments only (a command cut inside `--client` reads as two).
 */
function showHow(name) {
  const command = ["xiaozhi-connect", "stdio", "--client", name];
  const values = {
    name: data(name),
    url: data(new URL("/mcp", location.href).href),
    header: data("Authorization: Bearer <token>"),
    command: data(command.join(" ")),
  };
  const code = (text) => el("code", { translate: false, textContent: text });
  const commandCode = el("code", { className: "command", translate: false });
  commandCode.append(...command.flatMap((arg, i) => [...(i ? [" "] : []), el("span", { textContent: arg })]));
  $("client-how").replaceChildren(
    ...format("clientHow", values).map((s) => {
      if (typeof s === "string") return s;
      if (s === values.command) return commandCode;
      if (s === values.name) return el("span", { className: "data", translate: false, textContent: s.data });
      return code(s.data);
    }),
  );
}

$("client-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("client-error").textContent = "";
  const name = $("client-name").value.trim();
  const services = list($("client-services").value);
  const tools = list($("client-tools").value);
  $("client-add").disabled = true;
  try {
    const added = await call("POST", "/api/clients", {
      name,
      ...(services.length ? { services } : {}),
      ...(tools.length ? { tools } : {}),
    });
    $("client-form").reset();
    setText($("client-token"), added.token);
    $("client-token-copy").dataset.text = added.token;
    showHow(name);
    $("client-new").hidden = false;
    shown = name;
    await loadClients();
  } catch (error) {
    showError($("client-error"), error);
  } finally {
    $("client-add").disabled = false;
  }
});

$("clients").addEventListener("click", async (event) => {
  const target = event.target.closest("button[data-action='remove']");
  if (!target) return;
  const name = target.closest("tr").dataset.client;
  if (!confirm(t("confirmRemoveClient", { name }))) return;
  $("client-error").textContent = "";
  try {
    await call("DELETE", `/api/clients/${encodeURIComponent(name)}`);
    // A token on show of a client that is no more is of no use.
    if (shown === name) $("client-new").hidden = true;
    await loadClients();
  } catch (error) {
    showError($("client-error"), error);
  }
});
