import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "@xiaozhi-connect/core";
import { killServiceProcesses } from "@xiaozhi-connect/mcp-services/internal";
import { createLogger, parseConfigText } from "@xiaozhi-connect/webserver-adapter";
import pretty from "pino-pretty";
import { type Demo, startDemo } from "./demo.js";
import { findConfig, isLoopback, parseOptions, usage } from "./options.js";
import { startWebServer, type WebServer } from "./web-server.js";

const version = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** The signals that end the server: a terminal's Ctrl-C, a supervisor's stop, a closed terminal. */
const stopSignals: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs the WebServer until SIGINT/SIGTERM/SIGHUP and returns the exit code. The signal handlers
 * are in place before anything starts, so a signal during startup (a service still in its
 * handshake, say) stops what has started and exits 0 too. The first signal shuts down gracefully
 * (every endpoint closed with 1000, services and their processes stopped) within 5 s; a second one,
 * or the 5 s deadline, kills the service processes and exits at once. No child outlives it.
 */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv, env);
  } catch (error) {
    process.stderr.write(`xiaozhi-connect: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (options.help || options.version) {
    say(options.help ? usage : version);
    return 0;
  }

  const logger = createLogger({
    level: env.XIAOZHI_LOG_LEVEL ?? "info",
    destination: process.stderr.isTTY ? pretty({ destination: 2, sync: true }) : process.stderr,
  });
  const shutdown = watchSignals(logger);
  let server: WebServer | undefined;
  let demo: Demo | undefined;
  try {
    const lookup = findConfig(options.config, env);
    const fileConfig = lookup.path ? parseConfigText(readFileSync(lookup.path, "utf8")) : undefined;
    if (!lookup.path) {
      const flakyEveryMs = Number(env.XIAOZHI_DEMO_FLAKY_MS) || undefined;
      demo = await startDemo({ logger, ...(flakyEveryMs ? { flakyEveryMs } : {}) });
      shutdown.signal.throwIfAborted();
      say("xiaozhi-connect: DEMO MODE. No xiaozhi.config.json was found, so this runs three simulated");
      say("  Xiaozhi agents on 127.0.0.1 (one of them flaky) and built-in demo tools (calculator, clock).");
      say(`  Looked in: ${lookup.searched.join(", ")}`);
      say(
        '  To connect real agents, create xiaozhi.config.json with {"mcpEndpoint": ["wss://api.xiaozhi.me/mcp/?token=…"]}',
      );
      say("  and your mcpServers, or pass --config FILE.");
    }
    const host = options.host ?? fileConfig?.webUI?.host ?? "127.0.0.1";
    const port = options.port ?? fileConfig?.webUI?.port ?? 9999;
    let authToken = fileConfig?.webUI?.authToken ?? (env.XIAOZHI_TOKEN || undefined);
    let generated = false;
    if (!authToken && !isLoopback(host)) {
      authToken = randomBytes(24).toString("base64url");
      generated = true;
    }
    server = await startWebServer({
      ...(lookup.path ? { configPath: lookup.path } : { config: demo?.config ?? {} }),
      host,
      port,
      ...(authToken ? { authToken } : {}),
      ...(fileConfig?.webUI?.allowedHosts ? { allowedHosts: fileConfig.webUI.allowedHosts } : {}),
      logger,
      version,
      signal: shutdown.signal,
    });
    // The count of tools is worth a short wait for services; the endpoints already serve.
    await settledWithin(server.adapter.servicesStarted, 2000, shutdown.signal);
    shutdown.signal.throwIfAborted();
    const endpoints = server.adapter.endpoints();
    const tools = (await server.adapter.listTools()).filter((t) => t.enabled).length;
    const starting = server.adapter.services().filter((s) => s.state === "starting").length;
    const dashboardUrl = generated ? `${server.url}#token=${authToken}` : server.url;
    if (generated)
      say("xiaozhi-connect: bound beyond loopback; changes need this bearer token (shown once):");
    if (generated) say(`  ${authToken}`);
    say(
      `xiaozhi-connect ready: dashboard ${dashboardUrl} · endpoints ${endpoints.filter((e) => e.connected).length}/${endpoints.length} connected · ${tools} tools${starting ? ` (${starting} service${starting > 1 ? "s" : ""} still starting)` : ""} · config ${lookup.path ?? "demo mode"}`,
    );
    await shutdown.requested;
  } catch (error) {
    if (!shutdown.signal.aborted) {
      logger.error({ err: (error as Error).message }, "could not start");
      process.stderr.write(`xiaozhi-connect: ${(error as Error).message}\n`);
      await server?.close();
      await demo?.stop();
      shutdown.dispose();
      return 1;
    }
  }
  await server?.close().catch((error) => logger.error({ err: String(error) }, "close failed"));
  await demo?.stop();
  shutdown.dispose();
  logger.info("stopped");
  return 0;
}

/**
 * Installs the stop-signal handlers. The first signal aborts `signal` and resolves `requested`, and
 * arms a 5 s deadline; a second signal or the deadline kills every service process and exits.
 */
function watchSignals(logger: Logger) {
  const controller = new AbortController();
  let request: () => void = () => {};
  const requested = new Promise<void>((resolve) => {
    request = resolve;
  });
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const hardExit = (code: number) => {
    killServiceProcesses();
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      logger.warn({ signal }, "second signal: exiting now");
      hardExit(130);
    }
    logger.info({ signal }, "shutting down");
    deadline = setTimeout(() => {
      logger.error("shutdown took longer than 5 s; exiting");
      hardExit(1);
    }, 5000);
    deadline.unref();
    controller.abort(new Error(`stopped by ${signal}`));
    request();
  };
  // The last resort: whatever way the process ends, its service processes end with it.
  const onExit = () => killServiceProcesses();
  for (const signal of stopSignals) process.on(signal, onSignal);
  process.on("exit", onExit);
  return {
    signal: controller.signal,
    requested,
    dispose() {
      if (deadline !== undefined) clearTimeout(deadline);
      // The exit hook stays: it is the last word on service processes whatever ends the process.
      for (const signal of stopSignals) process.off(signal, onSignal);
    },
  };
}

/** Waits for `promise` at most `ms`, or until `signal` aborts; never throws. */
async function settledWithin(promise: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: () => void = () => {};
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = resolve;
      signal.addEventListener("abort", onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  signal.removeEventListener("abort", onAbort);
}
