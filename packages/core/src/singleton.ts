import type { Connection } from "./connection.js";
import {
  ConnectionManager,
  type ConnectionManagerOptions,
  type EndpointStatus,
} from "./connection-manager.js";
import { XiaozhiError } from "./errors.js";

/** What `getStatus()` of a singleton reports. */
export interface SingletonStatus {
  readonly hasInstance: boolean;
  /** The instance exists and `initialize()` was called on it. */
  readonly initialized: boolean;
  readonly endpoints: readonly EndpointStatus[];
  readonly connected: number;
}

/**
 * One ConnectionManager for a whole process, behind the singleton functions of xiaozhi-client's
 * XiaozhiConnectionManagerSingleton, so code written against it carries over.
 */
export interface ConnectionManagerSingleton<C extends Connection = Connection> {
  /** The one instance, created on first call; concurrent first calls share it. */
  getInstance(options?: ConnectionManagerOptions<C>): Promise<ConnectionManager<C>>;
  /** Cleans the instance up (closes every link, cancels every timer) and forgets it. */
  cleanup(): Promise<void>;
  /** Forgets the instance at once; its cleanup runs in the background so nothing leaks. */
  reset(): void;
  /** True when an instance exists and `initialize()` was called on it (as `getStatus().initialized`). */
  isInitialized(): boolean;
  getStatus(): SingletonStatus;
  /** Cleans up the current instance and creates a fresh one. */
  forceReinitialize(options?: ConnectionManagerOptions<C>): Promise<ConnectionManager<C>>;
  /** The instance if one exists, without creating it. */
  getCurrentInstance(): ConnectionManager<C> | null;
  /** Resolves with the instance once some caller has created it; rejects `TIMEOUT` after `timeoutMs`. */
  waitForInitialization(timeoutMs?: number): Promise<ConnectionManager<C>>;
}

/**
 * Builds a singleton facade. `defaults` supply the options when `getInstance` is called without
 * any (transport packages pass their connection factory here).
 */
export function createConnectionManagerSingleton<C extends Connection = Connection>(
  defaults?: () => ConnectionManagerOptions<C>,
): ConnectionManagerSingleton<C> {
  let instance: ConnectionManager<C> | null = null;
  let creating: Promise<ConnectionManager<C>> | null = null;
  const waiters = new Set<(manager: ConnectionManager<C>) => void>();

  const create = (options?: ConnectionManagerOptions<C>): ConnectionManager<C> => {
    const resolved = options ?? defaults?.();
    if (!resolved) {
      throw new XiaozhiError(
        "NOT_CONFIGURED",
        "the first getInstance() call needs options with a connectionFactory",
      );
    }
    const manager = new ConnectionManager(resolved);
    instance = manager;
    for (const wake of waiters) wake(manager);
    waiters.clear();
    return manager;
  };

  const facade: ConnectionManagerSingleton<C> = {
    getInstance(options) {
      if (instance) return Promise.resolve(instance);
      // Created inside a shared promise so concurrent first calls can never build two managers.
      creating ??= Promise.resolve()
        .then(() => instance ?? create(options))
        .finally(() => {
          creating = null;
        });
      return creating;
    },
    async cleanup() {
      await creating?.catch(() => {});
      const current = instance;
      instance = null;
      await current?.cleanup();
    },
    reset() {
      const current = instance;
      instance = null;
      creating = null;
      void current?.cleanup().catch(() => {});
    },
    isInitialized: () => instance?.isInitialized ?? false,
    getStatus() {
      const endpoints = instance?.getConnectionStatus() ?? [];
      return Object.freeze({
        hasInstance: instance !== null,
        initialized: instance?.isInitialized ?? false,
        endpoints,
        connected: endpoints.filter((e) => e.connected).length,
      });
    },
    async forceReinitialize(options) {
      await facade.cleanup();
      return facade.getInstance(options);
    },
    getCurrentInstance: () => instance,
    waitForInitialization(timeoutMs = 30_000) {
      if (instance) return Promise.resolve(instance);
      if (creating) return creating;
      return new Promise((resolve, reject) => {
        const wake = (manager: ConnectionManager<C>) => {
          clearTimeout(timer);
          resolve(manager);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new XiaozhiError("TIMEOUT", `no instance was created within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
  };
  return facade;
}

/** The process-wide manager singleton; the first `getInstance` call must pass options. */
export const ConnectionManagerSingleton: ConnectionManagerSingleton = createConnectionManagerSingleton();
