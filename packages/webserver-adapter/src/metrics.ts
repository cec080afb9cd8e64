import { Counter, Gauge, Registry } from "prom-client";
import type { XiaozhiConnectionAdapter } from "./xiaozhi-connection-adapter.js";

/**
 * Prometheus metrics of one adapter in their own registry (nothing global, no timers): gauges are
 * read from live status at scrape time, counters follow the manager's events. Labels carry the
 * endpoint id, never its URL.
 */
export function createMetrics(adapter: XiaozhiConnectionAdapter): { registry: Registry; dispose(): void } {
  const registry = new Registry();
  const endpoints = () => adapter.endpoints();
  new Gauge({
    name: "xiaozhi_endpoints",
    help: "Configured Xiaozhi endpoints by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.inc({ state: e.state });
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_up",
    help: "1 while the endpoint's link is connected",
    labelNames: ["endpoint"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.set({ endpoint: e.id }, e.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_health_score",
    help: "Health score 0-100 of each endpoint",
    labelNames: ["endpoint"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.set({ endpoint: e.id }, e.healthScore);
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_rtt_seconds",
    help: "Last measured round trip of each connected endpoint",
    labelNames: ["endpoint"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) if (e.rttMs !== undefined) this.set({ endpoint: e.id }, e.rttMs / 1000);
    },
  });
  new Gauge({
    name: "xiaozhi_tools",
    help: "Tools offered to the endpoints (enabled ones)",
    registers: [registry],
    async collect() {
      this.set((await adapter.listTools()).filter((t) => t.enabled).length);
    },
  });
  new Gauge({
    name: "xiaozhi_process_resident_memory_bytes",
    help: "Resident set size of the process",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  const connects = new Counter({
    name: "xiaozhi_endpoint_connects_total",
    help: "Successful connects per endpoint",
    labelNames: ["endpoint"],
    registers: [registry],
  });
  const disconnects = new Counter({
    name: "xiaozhi_endpoint_disconnects_total",
    help: "Links that ended per endpoint, by close code",
    labelNames: ["endpoint", "code"],
    registers: [registry],
  });
  const failures = new Counter({
    name: "xiaozhi_endpoint_connect_failures_total",
    help: "Failed connect attempts per endpoint",
    labelNames: ["endpoint"],
    registers: [registry],
  });
  const reloads = new Counter({
    name: "xiaozhi_config_reloads_total",
    help: "Config changes seen on disk, by outcome",
    labelNames: ["result"],
    registers: [registry],
  });
  const manager = adapter.manager;
  const subscriptions = [
    manager.on("connected", ({ id }) => connects.inc({ endpoint: id })),
    manager.on("disconnected", ({ id, code }) => disconnects.inc({ endpoint: id, code: String(code) })),
    manager.on("connectFailed", ({ id }) => failures.inc({ endpoint: id })),
    adapter.on("config", (status) => reloads.inc({ result: status.lastError ? "rejected" : "applied" })),
  ];
  return {
    registry,
    dispose: () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    },
  };
}
