// Cluster mode: every instance, with what it holds and when it last beat.
import { data, format, t } from "./i18n.js";
import { $, duration, el, render, state } from "./page.js";

export function renderCluster() {
  const view = state.cluster;
  $("cluster-section").hidden = !view;
  if (!view) return;
  const meta = view.reachable
    ? format("clusterMeta", { count: view.instances.length, redis: data(view.redis) })
    : [t("redisDown")];
  $("cluster-meta").replaceChildren(...render(meta));
  $("cluster-meta").className = view.reachable ? "" : "error";
  $("instances").replaceChildren(
    ...view.instances.map((i) => {
      const tr = el(
        "tr",
        {},
        el(
          "td",
          { className: "who" },
          el("span", { className: "name", translate: false }, i.id),
          i.self ? el("span", { className: "id" }, ` · ${t("thisOne")}`) : "",
        ),
        el("td", { className: "url clip", translate: false, title: i.address ?? "" }, i.address ?? "–"),
        el("td", { className: "num held" }, String(i.endpoints)),
        el(
          "td",
          { className: "beat" },
          t("ago", { time: duration(Math.max(0, Date.now() - i.heartbeatAt)) }),
        ),
      );
      tr.dataset.id = i.id;
      return tr;
    }),
  );
}
