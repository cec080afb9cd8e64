import { defaultManagerSettings, type ManagerSettings } from "@xiaozhi-connect/core";
import { defaultToolsHold } from "@xiaozhi-connect/mcp-services";
import {
  defaultHeartbeat,
  defaultTransportOptions,
  type XiaozhiTransportOptions,
} from "@xiaozhi-connect/transport-ws";
import type { ConnectionConfig } from "./schema.js";

/** The manager settings the `connection` block sets; absent fields keep their defaults. */
export function managerSettingsOf(
  connection: ConnectionConfig | undefined,
): Partial<Omit<ManagerSettings, "backoff">> & { backoff?: Partial<ManagerSettings["backoff"]> } {
  const c = connection ?? {};
  const backoff = {
    ...(c.reconnectInterval === undefined ? {} : { initialDelay: c.reconnectInterval }),
    ...(c.maxReconnectInterval === undefined ? {} : { maxDelay: c.maxReconnectInterval }),
  };
  return {
    ...(c.autoReconnect === undefined ? {} : { autoReconnect: c.autoReconnect }),
    ...(c.maxReconnectAttempts === undefined ? {} : { maxReconnectAttempts: c.maxReconnectAttempts }),
    ...(c.connectionTimeout === undefined ? {} : { connectTimeout: c.connectionTimeout }),
    ...(c.minUptime === undefined ? {} : { minUptime: c.minUptime }),
    ...(c.recoveryWindow === undefined ? {} : { recoveryWindow: c.recoveryWindow }),
    ...(c.probeInterval === undefined ? {} : { probeInterval: c.probeInterval }),
    ...(c.connectConcurrency === undefined ? {} : { connectConcurrency: c.connectConcurrency }),
    ...(c.authRetryInterval === undefined ? {} : { authRetryInterval: c.authRetryInterval }),
    ...(Object.keys(backoff).length === 0 ? {} : { backoff }),
  };
}

/** What every `connection` field means when it is absent: the lower packages' own defaults. */
export const connectionDefaults = Object.freeze({
  heartbeatInterval: defaultHeartbeat.interval,
  heartbeatTimeout: defaultHeartbeat.timeout,
  reconnectInterval: defaultManagerSettings.backoff.initialDelay,
  maxReconnectInterval: defaultManagerSettings.backoff.maxDelay,
  maxReconnectAttempts: defaultManagerSettings.maxReconnectAttempts,
  connectionTimeout: defaultManagerSettings.connectTimeout,
  autoReconnect: defaultManagerSettings.autoReconnect,
  minUptime: defaultManagerSettings.minUptime,
  recoveryWindow: defaultManagerSettings.recoveryWindow,
  probeInterval: defaultManagerSettings.probeInterval,
  connectConcurrency: defaultManagerSettings.connectConcurrency,
  authRetryInterval: defaultManagerSettings.authRetryInterval,
  callTimeout: defaultTransportOptions.callTimeout,
  maxResultBytes: defaultTransportOptions.maxResultBytes,
  toolsChanged: defaultTransportOptions.toolsChanged,
  toolsWait: defaultTransportOptions.toolsWait,
  toolsHold: defaultToolsHold,
  relistGrace: defaultTransportOptions.relistGrace,
  republishInterval: defaultTransportOptions.republishInterval,
});

/** The `connection` block with every absent field at its default, so a removed field reverts. */
export function withConnectionDefaults(connection: ConnectionConfig | undefined): ConnectionConfig {
  return { ...connectionDefaults, ...connection };
}

/** The transport settings the `connection` block sets. */
export function transportOptionsOf(connection: ConnectionConfig | undefined): XiaozhiTransportOptions {
  const c = connection ?? {};
  return {
    ...(c.heartbeatInterval === undefined ? {} : { heartbeatInterval: c.heartbeatInterval }),
    ...(c.heartbeatTimeout === undefined ? {} : { heartbeatTimeout: c.heartbeatTimeout }),
    ...(c.callTimeout === undefined ? {} : { callTimeout: c.callTimeout }),
    ...(c.maxResultBytes === undefined ? {} : { maxResultBytes: c.maxResultBytes }),
    ...(c.toolsChanged === undefined ? {} : { toolsChanged: c.toolsChanged }),
    ...(c.toolsWait === undefined ? {} : { toolsWait: c.toolsWait }),
    ...(c.relistGrace === undefined ? {} : { relistGrace: c.relistGrace }),
    ...(c.republishInterval === undefined ? {} : { republishInterval: c.republishInterval }),
  };
}
