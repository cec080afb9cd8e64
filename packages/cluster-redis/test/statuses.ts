import type { EndpointStatus } from "@xiaozhi-connect/core";

/** An endpoint's status as an instance publishes it: connected, initialized, 40 ms RTT, then `patch`. */
export const status = (id: string, patch: Partial<EndpointStatus> = {}) =>
  ({
    id,
    url: `wss://api.example/mcp/?token=<masked:${id}>`,
    state: "connected",
    connected: true,
    initialized: true,
    reconnectAttempts: 0,
    republishing: false,
    healthScore: 100,
    weight: 1,
    inflight: 0,
    rttMs: 40,
    ...patch,
  }) as EndpointStatus;
