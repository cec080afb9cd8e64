// Tools, grouped by service with a filter; each with its state (enabled, hidden, unavailable and
// why), its switch and its call statistics. Then the recent calls.

import { t, word } from "./i18n.js";
import en from "./messages-en.js";
import {
  $,
  call,
  clock,
  el,
  foldable,
  ms,
  onFlush,
  schedule,
  setText,
  show,
  showError,
  state,
} from "./page.js";
import { explain } from "./reasons.js";

const shownCalls = 50;
/** Calls a phone shows until asked for all of them. */
const phoneCalls = 5;
let allCalls = false;
let toolsDirty = false;
let callsDirty = false;

// Descriptions the product itself writes (the demo tools'), found by their English text.
const ownDescriptions = new Map(Object.entries(en.descriptions).map(([key, text]) => [text, key]));

function toolState(tool) {
  if (tool.unavailable) return { key: "unavailable", why: explain(tool.unavailable) };
  if (!tool.enabled) return { key: "hidden", why: [t("hiddenWhy")] };
  return { key: "enabled", why: null };
}

function toolRow(tool) {
  const { key, why } = toolState(tool);
  // A switch writes mcpServerConfig and applies live; an unavailable tool cannot be switched on.
  const toggle = el("input", {
    type: "checkbox",
    className: "switch",
    checked: tool.enabled,
    disabled: Boolean(tool.unavailable),
    title: t("toolSwitch", { name: tool.name }),
  });
  toggle.setAttribute("aria-label", t("toolSwitch", { name: tool.name }));
  toggle.dataset.tool = tool.name;
  const status = el(
    "td",
    { className: "tstate" },
    el("span", { className: `state tool-${key}`, textContent: word("toolStates", key) }),
  );
  if (why) {
    const reason = el("div", { className: "reason clip" });
    show(reason, why);
    status.append(reason);
  }
  const own = ownDescriptions.get(tool.description);
  const description = own
    ? el("td", { className: "desc", textContent: t(`descriptions.${own}`) })
    : el("td", { className: "desc", translate: false, textContent: tool.description });
  const tr = el(
    "tr",
    { className: tool.enabled && !tool.unavailable ? "" : "off-tool" },
    el(
      "td",
      { className: "tname" },
      el("code", { className: "clip", translate: false, title: tool.name, textContent: tool.name }),
      // A customMCP tool under the user's name: the service tool its calls go to.
      tool.target
        ? el("div", {
            className: "target",
            translate: false,
            title: `${tool.name} → ${tool.target}`,
            textContent: `→ ${tool.target}`,
          })
        : null,
    ),
    status,
    description,
    el("td", { className: "num calls" }),
    el("td", { className: "num errors" }),
    el("td", { className: "num p50" }),
    el("td", { className: "num p95" }),
  );
  tr.append(el("td", { className: "switcher" }, toggle, foldable(tr, `tool:${tool.name}`)));
  tr.dataset.tool = tool.name;
  tr.dataset.search =
    `${tool.name}\n${tool.service}\n${tool.target ?? ""}\n${tool.description}\n${description.textContent}`.toLowerCase();
  return tr;
}

function groupHeader(name, service, tools) {
  const enabled = tools.filter((x) => x.enabled && !x.unavailable).length;
  const meta =
    tools.length === 0 && service
      ? t("groupEmpty", { state: word("states", service.state) })
      : t("groupTools", { enabled, total: tools.length });
  return el(
    "tr",
    { className: "group" },
    el(
      "th",
      { colSpan: 8 },
      el("span", { className: "name", translate: false, textContent: name }),
      service
        ? el("span", { className: `state ${service.state}`, textContent: word("states", service.state) })
        : null,
      el("span", { className: "meta", textContent: meta }),
    ),
  );
}

export function renderTools() {
  // Every service is a group, even one with no tools while it is down; then any other source's.
  const groups = new Map(state.services.map((s) => [s.name, { service: s, tools: [] }]));
  for (const tool of state.tools) {
    if (!groups.has(tool.service)) groups.set(tool.service, { service: null, tools: [] });
    groups.get(tool.service).tools.push(tool);
  }
  const table = $("tools");
  for (const body of [...table.tBodies]) body.remove();
  for (const [name, { service, tools }] of groups) {
    const body = el(
      "tbody",
      { className: "group" },
      groupHeader(name, service, tools),
      ...tools.map(toolRow),
    );
    body.dataset.service = name;
    body.dataset.search = name.toLowerCase();
    table.append(body);
  }
  applyFilter();
  renderToolStats();
}

/** Shows the tools whose name, service or description holds the filter's text. */
function applyFilter() {
  const filter = $("tool-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const body of $("tools").tBodies) {
    let any = false;
    for (const tr of body.querySelectorAll("tr[data-tool]")) {
      const match = !filter || tr.dataset.search.includes(filter) || body.dataset.search.includes(filter);
      tr.hidden = !match;
      if (match) any = true;
      if (match) shown++;
    }
    body.hidden = Boolean(filter) && !any;
  }
  const count = state.tools.length;
  setText($("tool-count"), filter ? t("toolsShown", { shown, count }) : t("toolsInAll", { count }));
  const empty = $("no-tools");
  empty.hidden = filter ? shown > 0 : count > 0;
  setText(empty, filter ? t("noToolMatch", { filter: $("tool-filter").value.trim() }) : t("noTools"));
}
$("tool-filter").addEventListener("input", applyFilter);

function renderToolStats() {
  toolsDirty = false;
  for (const tr of $("tools").querySelectorAll("tr[data-tool]")) {
    const stats = state.toolStats.get(tr.dataset.tool);
    setText(tr.querySelector(".calls"), String(stats?.calls ?? 0));
    setText(tr.querySelector(".errors"), String(stats?.errors ?? 0));
    setText(tr.querySelector(".p50"), ms(stats?.p50Ms));
    setText(tr.querySelector(".p95"), ms(stats?.p95Ms));
  }
}

// On a phone (phone.css) only the latest calls show, with a button for the rest and back.
const moreCalls = el("button", { type: "button" });
moreCalls.setAttribute("aria-controls", "calls");
$("calls")
  .closest("table")
  .after(el("div", { className: "more-calls", hidden: true }, moreCalls));
moreCalls.addEventListener("click", () => {
  allCalls = !allCalls;
  renderCalls();
  // Folded back from far down the list, the button stays under the finger.
  if (!allCalls) moreCalls.scrollIntoView({ block: "nearest" });
});

export function renderCalls() {
  callsDirty = false;
  $("calls").classList.toggle("all", allCalls);
  $("calls").replaceChildren(
    ...state.calls.map((c, i) =>
      el(
        "tr",
        { className: i < phoneCalls ? "" : "later" },
        el("td", { className: "time", textContent: clock(c.at) }),
        el(
          "td",
          { className: "who", translate: false },
          el("span", { className: "name", textContent: c.agent || c.endpoint }),
        ),
        el(
          "td",
          { className: "tname" },
          // A call of a name no service offers is recorded as "(unknown tool)": said in the page's words.
          c.tool === "(unknown tool)"
            ? el("span", { textContent: t("unknownTool") })
            : el("code", { translate: false, textContent: c.tool }),
          // A result cut to fit the agent's bound: which tool overflows, and by how much.
          c.truncated
            ? el("span", {
                className: "badge cut",
                textContent: t("cutBadge"),
                title: t("cutTitle", { from: c.truncated.from, to: c.truncated.to }),
              })
            : null,
        ),
        el("td", { className: "num duration", textContent: ms(c.ms) }),
        // `failed`, not `error`: the page's `.error` is a small error line, not a word in a table.
        el("td", {
          className: c.ok ? "outcome ok" : "outcome failed",
          textContent: c.ok ? t("okOutcome") : t("errorOutcome"),
        }),
      ),
    ),
  );
  $("no-calls").hidden = state.calls.length > 0;
  moreCalls.parentElement.hidden = state.calls.length <= phoneCalls;
  moreCalls.setAttribute("aria-expanded", String(allCalls));
  setText(
    moreCalls,
    allCalls ? t("latestCalls", { count: phoneCalls }) : t("allCalls", { count: state.calls.length }),
  );
}

/** An agent called a tool: the call goes on top, the tool's statistics change. */
export function addCall(record, stats) {
  state.calls.unshift(record);
  if (state.calls.length > shownCalls) state.calls.length = shownCalls;
  if (stats) state.toolStats.set(stats.name, stats);
  callsDirty = true;
  toolsDirty = true;
  schedule();
}

/** The last calls of a snapshot. */
export const setCalls = (calls) => {
  state.calls = calls.slice(0, shownCalls);
};

onFlush(() => {
  if (callsDirty) renderCalls();
  if (toolsDirty) renderToolStats();
});

$("tools").addEventListener("change", async (event) => {
  const toggle = event.target.closest("input[data-tool]");
  if (!toggle) return;
  try {
    await call("PATCH", `/api/tools/${encodeURIComponent(toggle.dataset.tool)}`, { enabled: toggle.checked });
  } catch (error) {
    toggle.checked = !toggle.checked;
    showError($("form-error"), error);
  }
});
