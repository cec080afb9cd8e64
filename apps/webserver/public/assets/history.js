// History: charts drawn as plain SVG for the endpoints whose details are open.
import { rows } from "./endpoints.js";
import { format, plain, t } from "./i18n.js";
import { $, call, clock, el, onFlush, render, schedule, showError, state } from "./page.js";
import { explain } from "./reasons.js";

const chartsDirty = new Set();
const svgNS = "http://www.w3.org/2000/svg";
const chartWidth = 360;
const chartHeight = 64;

/** Marks an endpoint's charts to be drawn again at the next frame. */
export function markCharts(id) {
  chartsDirty.add(id);
  schedule();
}

onFlush(() => {
  for (const id of chartsDirty) drawHistory(id);
  chartsDirty.clear();
});

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

/** The span the charts show: the last hour, or less while less is known (at least 5 minutes). */
function chartRange(history) {
  const now = Date.now();
  const first = Math.min(history.points[0]?.at ?? now, history.periods[0]?.from ?? now);
  const from = Math.max(now - 3600000, Math.min(first, now - 300000));
  return { from, now, windowMs: now - from };
}

function lineChart(points, value, top, color, { from, windowMs }) {
  const x = (at) => ((at - from) / windowMs) * (chartWidth - 4) + 2;
  const y = (v) => chartHeight - 4 - (Math.min(v, top) / top) * (chartHeight - 8);
  const usable = points.filter((p) => value(p) != null && p.at >= from);
  const chart = svg("svg", { viewBox: `0 0 ${chartWidth} ${chartHeight}`, role: "img" });
  if (usable.length > 0) {
    chart.append(
      svg("polyline", {
        points: usable.map((p) => `${x(p.at).toFixed(1)},${y(value(p)).toFixed(1)}`).join(" "),
        fill: "none",
        stroke: color,
        "stroke-width": 1.5,
        "stroke-linejoin": "round",
      }),
    );
    const last = usable[usable.length - 1];
    chart.append(
      svg("circle", { cx: x(last.at).toFixed(1), cy: y(value(last)).toFixed(1), r: 2.5, fill: color }),
    );
  }
  chart.append(
    svg(
      "text",
      { x: 4, y: 12, "font-size": 10, fill: "#667085" },
      document.createTextNode(String(Math.round(top))),
    ),
  );
  return chart;
}

// A link closed on request (a reconnect, a stop) went down with no reason of its own.
const periodText = (p) => {
  if (p.up) return format("periodUp", { from: clock(p.from) });
  if (!p.reason) return format("periodDownBare", { from: clock(p.from) });
  return format("periodDown", { from: clock(p.from), reason: explain(p.reason) });
};

function timeline(periods, { from, now, windowMs }) {
  const x = (at) => ((Math.max(at, from) - from) / windowMs) * chartWidth;
  const chart = svg("svg", { viewBox: `0 0 ${chartWidth} 16`, role: "img", class: "timeline" });
  for (const p of periods) {
    const end = p.to ?? now;
    if (end < from) continue;
    const rect = svg("rect", {
      x: x(p.from).toFixed(1),
      y: 2,
      width: Math.max(1, x(end) - x(p.from)).toFixed(1),
      height: 12,
      fill: p.up ? "#12805c" : "#c01048",
    });
    rect.append(svg("title", {}, document.createTextNode(plain(periodText(p)))));
    chart.append(rect);
  }
  return chart;
}

function drawHistory(id) {
  const row = rows.get(id);
  const history = state.history.get(id);
  if (!row?.details || !history) return;
  const points = history.points;
  const range = chartRange(history);
  const top = Math.max(10, ...points.map((p) => p.rttMs ?? 0)) * 1.15;
  const chart = (title, node) => el("div", { className: "chart" }, el("h3", { textContent: title }), node);
  const periods = el(
    "ul",
    { className: "periods" },
    ...[...history.periods]
      .reverse()
      .slice(0, 8)
      .map((p) => el("li", {}, ...render(periodText(p)))),
  );
  const box = el(
    "div",
    { className: "charts" },
    points.length === 0 ? el("div", { className: "empty", textContent: t("noHistory") }) : null,
    chart(
      t("rttChart"),
      lineChart(points, (p) => p.rttMs, top, "#175cd3", range),
    ),
    chart(
      t("healthChart"),
      lineChart(points, (p) => p.health, 100, "#12805c", range),
    ),
    chart(t("timeline"), el("div", {}, timeline(history.periods, range), periods)),
  );
  box.dataset.points = String(points.length);
  row.details.firstChild.replaceChildren(box);
}

/** Opens (or, toggled, closes) an endpoint's history under its row, and loads it. */
export async function openHistory(id, toggle = true) {
  const row = rows.get(id);
  if (!row) return;
  if (row.details && toggle) {
    row.details.remove();
    row.details = null;
    state.open.delete(id);
    return;
  }
  if (!row.details) {
    row.details = el("tr", { className: "details" }, el("td", { colSpan: 7 }));
    row.details.dataset.history = id;
    row.tr.after(row.details);
  }
  state.open.add(id);
  await loadHistory(id);
}

/** Reads an endpoint's history from the server and draws it. */
export async function loadHistory(id) {
  try {
    const snapshot = await call("GET", `/api/history?endpoint=${encodeURIComponent(id)}`);
    const history = snapshot.endpoints[0] ?? { id, points: [], periods: [] };
    state.history.set(id, { points: [...history.points], periods: history.periods });
    markCharts(id);
  } catch (error) {
    showError($("form-error"), error);
  }
}
