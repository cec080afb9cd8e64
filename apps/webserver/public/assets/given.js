import { t } from "./i18n.js";
import { state } from "./page.js";

// What each agent is given: the enabled tools, within its own limits when it has some. Worked out
// per row as rows are drawn (and kept until the next recount): ten thousand endpoints each with a
// measured list cost nothing until their page is shown.
let enabledTools = [];
let givenAll = "";
const given = new Map();

/** Counts again after the tools, the limits or the language changed. */
export function countGivenAgain() {
  enabledTools = state.tools.filter((x) => x.enabled && !x.unavailable);
  givenAll = t("given", { count: enabledTools.length });
  given.clear();
}

/** What an endpoint's agent is given, and the warning when that is more than its maxTools. */
export function givenTo(id) {
  let text = given.get(id);
  if (text !== undefined) return text;
  const filter = state.filters.get(id);
  if (filter) {
    const services = new Set(filter.services ?? []);
    const tools = new Set(filter.tools ?? []);
    const count = enabledTools.filter((x) => tools.has(x.name) || services.has(x.service)).length;
    text = { given: t("givenSome", { count, total: enabledTools.length }), over: "" };
  } else text = { given: givenAll, over: "" };
  // The server measures each agent's list as it receives it: its size, and whether it has more
  // tools than its maxTools.
  const budget = state.status?.toolBudget?.[id];
  if (budget) {
    const size = budget.bytes < 1024 ? `${budget.bytes} B` : `${(budget.bytes / 1024).toFixed(1)} KiB`;
    text = {
      given: t("givenSize", { given: text.given, size }),
      over: budget.over ? t("overBudget", { max: budget.maxTools }) : "",
    };
  }
  given.set(id, text);
  return text;
}
