import "reflect-metadata";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import type { Logger } from "@xiaozhi-connect/core";
import {
  ConfigFile,
  createXiaozhiContainer,
  createXiaozhiRoutes,
  HttpAuth,
  hostGuard,
  jsonMethodNotAllowed,
  notFound,
  registerXiaozhi,
  StrategyRegistryToken,
  type XiaozhiConfig,
  XiaozhiConnectionAdapter,
} from "@xiaozhi-connect/webserver-adapter";
import { Hono } from "hono";
import { openAuditTrail } from "./audit-file.js";
import { loadDashboard, loadLoginPage, mountDashboard, mountLoginPage } from "./dashboard.js";
import { isLoopback } from "./options.js";
import { loadStrategies } from "./strategies.js";

export interface WebServerOptions {
  /** The config file to load and follow; without it, `config` is used as given (demo mode). */
  readonly configPath?: string;
  readonly config?: XiaozhiConfig;
  readonly host: string;
  readonly port: number;
  /** Required on mutating routes and the event stream when set; on every route beyond loopback. */
  readonly authToken?: string;
  /** The login page's password hash (`webUI.password`). */
  readonly passwordHash?: string;
  /** A token that opens `/metrics` only (`webUI.metricsToken`). */
  readonly metricsToken?: string;
  /** Where the audit trail is kept (the server's state directory); in memory only without it. */
  readonly stateDir?: string;
  /** Serve HTTPS with this PEM certificate and key (`webUI.tls`). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Host names besides loopback ones and `host` that requests may be addressed to. */
  readonly allowedHosts?: readonly string[];
  /**
   * Where strategies are found by name; the built-ins by default. The config's `strategies` are
   * added to it at the start.
   */
  readonly strategies?: StrategyRegistry;
  readonly logger: Logger;
  readonly version: string;
  /** Aborting it during startup stops whatever started (service processes included) and rejects. */
  readonly signal?: AbortSignal;
  /** Told the URL once the server listens, before the adapter starts (which may wait in cluster mode). */
  readonly onListening?: (url: string) => void;
}

/** A started WebServer. */
export interface WebServer {
  /** `http://host:port/`. */
  readonly url: string;
  readonly adapter: XiaozhiConnectionAdapter;
  /** Stops accepting, ends event streams, closes every endpoint with 1000, stops the services. */
  close(): Promise<void>;
}

// The built page sits beside the built server (dist/); run from src/, the server serves the sources.
const builtDashboard = new URL("./dashboard.html", import.meta.url);
const dashboardSources = new URL("../public/", import.meta.url);

/**
 * The WebServer: loads the config, wires everything through `registerXiaozhi`, serves the dashboard
 * and the HTTP API, and connects every endpoint. Resolves once each endpoint's first attempt has
 * settled. Throws `INVALID_CONFIG` for a config that cannot run.
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { logger } = options;
  const configFile = options.configPath ? new ConfigFile(options.configPath, { logger }) : undefined;
  await configFile?.load();
  // Cluster mode is read from the config at the start (a change of it applies at the next), so its
  // package and Redis client are loaded only for a config that asks for it.
  const config = configFile?.config ?? options.config;
  const cluster = config?.cluster ? (await import("@xiaozhi-connect/cluster-redis")).redisCluster : undefined;
  // Third-party strategies, like the cluster block, are read at the start.
  const strategies = await loadStrategies(
    config?.strategies,
    configFile ? dirname(configFile.path) : process.cwd(),
    options.strategies,
  );
  const container = createXiaozhiContainer();
  container.register(StrategyRegistryToken, { useValue: strategies });
  const scope = registerXiaozhi(container, {
    ...(configFile ? { configFile } : { config: options.config ?? {} }),
    logger,
    serverInfo: { name: "xiaozhi-connect", version: options.version },
    ...(cluster ? { cluster } : {}),
  });
  const adapter = scope.resolve(XiaozhiConnectionAdapter);
  // Beyond loopback every page and read needs a login too: a LAN is not a trusted place.
  const auth = new HttpAuth({
    ...(options.authToken ? { token: options.authToken } : {}),
    ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
    ...(options.metricsToken ? { metricsToken: options.metricsToken } : {}),
    everything: !isLoopback(options.host),
    logger,
  });
  const audit = options.stateDir ? openAuditTrail(options.stateDir) : undefined;
  const routes = createXiaozhiRoutes(adapter, {
    version: options.version,
    logger,
    auth,
    ...(audit ? { audit: audit.trail } : {}),
  });
  const dashboard = loadDashboard(builtDashboard, dashboardSources);
  const app = new Hono();
  app.notFound(notFound);
  // Before any route: a request for a host this server does not answer to gets nothing else.
  app.use(
    "*",
    hostGuard({
      host: options.host,
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    }),
  );
  app.use("*", jsonMethodNotAllowed(app));
  app.use("*", auth.guard());
  mountLoginPage(app, loadLoginPage(dashboardSources));
  mountDashboard(app, dashboard);
  app.route("/", routes);

  const server = await listen(app, options.host, options.port, options.tls);
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${options.tls ? "https" : "http"}://${host}:${address.port}/`;
  // In cluster mode the other instances show where this one's dashboard is; bound to every
  // interface, it is reached by the machine's name.
  if (adapter.cluster) {
    const unspecified = address.address === "0.0.0.0" || address.address === "::";
    const scheme = options.tls ? "https" : "http";
    adapter.cluster.address = unspecified ? `${scheme}://${hostname()}:${address.port}/` : url;
  }
  const abandon = () => void adapter.cleanup();
  options.signal?.addEventListener("abort", abandon, { once: true });
  try {
    options.signal?.throwIfAborted();
    // A callback that throws (a record not written) stops what started, as a failed start does.
    options.onListening?.(url);
    await adapter.start();
    options.signal?.throwIfAborted();
  } catch (error) {
    routes.close();
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    await adapter.cleanup();
    await audit?.close();
    throw error;
  } finally {
    options.signal?.removeEventListener("abort", abandon);
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    adapter,
    close() {
      closing ??= (async () => {
        const stopped = new Promise((resolve) => server.close(resolve));
        routes.close();
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        await adapter.cleanup();
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        await stopped;
        await audit?.close();
      })();
      return closing;
    },
  };
}

function listen(
  app: Hono,
  hostname: string,
  port: number,
  tls?: WebServerOptions["tls"],
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({
      fetch: app.fetch,
      hostname,
      port,
      ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
    });
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}
