import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { type NetworkInterfaceInfo, networkInterfaces } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Logger, XiaozhiError } from "@xiaozhi-connect/core";
import { killServiceProcesses } from "@xiaozhi-connect/mcp-services";
import { createLogger, formatOf, parseConfigText, selectEndpoints } from "@xiaozhi-connect/webserver-adapter";
import { createStream, type RotatingFileStream } from "rotating-file-stream";
import { watchAncestors } from "./ancestors.js";
import { type Demo, startDemo } from "./demo.js";
import type { Locale } from "./locale.js";
import { pinoPretty } from "./logs.js";
import { messagesFor } from "./messages.js";
import { type ConfigLookup, findConfig, isLoopback } from "./options.js";
import { logFileName, removeRecord, type ServerRecord, stateDir, writeRecord } from "./state.js";
import { version } from "./version.js";
import { startWebServer, type WebServer } from "./web-server.js";

/** How `serve` runs; every field optional. */
export interface ServeOptions {
  readonly config?: string;
  readonly port?: number;
  readonly host?: string;
  /** Log to a size-rotated file in the state directory instead of stderr (`start -d`). */
  readonly logFile?: { readonly size: string; readonly files: number };
  /** Started by `start -d`: report the ready line (or why it failed) to the parent over IPC. */
  readonly ipc?: boolean;
  /**
   * Shut down when a process that started this one goes away (a wrapper such as npx or pnpm, or
   * the shell between it and this process).
   */
  readonly watchParent?: boolean;
  /** The language of what it prints (the ready line, the demo banner, errors); default English. */
  readonly locale?: Locale;
}

let exitHooked = false;

/** The signals that end the server: a terminal's Ctrl-C, a supervisor's stop, a closed terminal. */
const stopSignals: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Whether the server runs in a terminal, read at start (a hung-up terminal is no terminal any more).
 * Without one (`start -d`, systemd) a SIGHUP is no hang-up but an operator's or a log rotator's
 * habit of asking for a reload, and must not stop it.
 */
const inTerminal = () => Boolean(process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY);

/**
 * Runs the WebServer until SIGINT/SIGTERM (SIGHUP too in a terminal; or, with `watchParent`, until
 * its parent goes away) and returns the exit code. Signal handlers are in place before anything
 * starts, so a signal during startup stops what has started and exits 0 too. The first signal shuts
 * down gracefully within 5 s; a second one, or the deadline, kills the service processes and exits
 * at once.
 */
export async function serve(options: ServeOptions, env: NodeJS.ProcessEnv): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const m = messagesFor(options.locale ?? "en");
  let lookup: ConfigLookup | undefined;
  let lookupError: unknown;
  try {
    lookup = findConfig(options.config, env);
  } catch (error) {
    lookupError = error;
  }
  const dir = stateDir(env, lookup ? (lookup.path ?? null) : resolve(options.config ?? "."));
  const logStream = options.logFile ? openLog(dir, options.logFile) : undefined;
  const logger = createLogger({
    level: env.XIAOZHI_LOG_LEVEL ?? "info",
    destination:
      logStream ?? (process.stderr.isTTY ? pinoPretty()({ destination: 2, sync: true }) : process.stderr),
  });
  const shutdown = watchSignals(logger, options.watchParent === true);
  const report = (message: { type: "ready" | "failed"; line: string }) => {
    if (options.ipc && process.send) process.send(message);
  };
  let server: WebServer | undefined;
  let demo: Demo | undefined;
  let code = 0;
  let listening: { host: string; port: number } | undefined;
  try {
    if (!lookup) throw lookupError;
    const fileConfig = lookup.path
      ? parseConfigText(readFileSync(lookup.path, "utf8"), formatOf(lookup.path))
      : undefined;
    if (!lookup.path) {
      const flakyEveryMs = Number(env.XIAOZHI_DEMO_FLAKY_MS) || undefined;
      demo = await startDemo({ logger, ...(flakyEveryMs ? { flakyEveryMs } : {}) });
      shutdown.signal.throwIfAborted();
      for (const line of m.server.demoBanner(lookup.searched)) say(line);
    }
    const host = options.host ?? fileConfig?.webUI?.host ?? "127.0.0.1";
    const port = options.port ?? fileConfig?.webUI?.port ?? 9999;
    listening = { host, port };
    let authToken = fileConfig?.webUI?.authToken ?? (env.XIAOZHI_TOKEN || undefined);
    let generated = false;
    if (!authToken && !isLoopback(host)) {
      authToken = randomBytes(24).toString("base64url");
      generated = true;
    }
    const tls =
      fileConfig?.webUI?.tls && lookup.path ? readTls(fileConfig.webUI.tls, lookup.path) : undefined;
    const record: Omit<ServerRecord, "url"> = {
      pid: process.pid,
      config: lookup.path ?? null,
      startedAt: Date.now(),
      ...(logStream ? { logFile: join(dir, logFileName) } : {}),
      ...(generated && authToken ? { token: authToken } : {}),
      ...(options.port !== undefined || options.host !== undefined
        ? {
            listen: {
              ...(options.port === undefined ? {} : { port: options.port }),
              ...(options.host === undefined ? {} : { host: options.host }),
            },
          }
        : {}),
      log: { level: env.XIAOZHI_LOG_LEVEL ?? "info", ...options.logFile },
    };
    const recordAt = (url: string) =>
      writeRecord(dir, {
        ...record,
        url: url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:"),
      });
    // In cluster mode the server is recorded once it listens, not once the start is over: the start
    // may wait up to a lease for the instance id (or for Redis) while the API serves, and the
    // commands reach it meanwhile. Otherwise it is recorded once the start is over.
    server = await startWebServer({
      ...(lookup.path ? { configPath: lookup.path } : { config: demo?.config ?? {} }),
      host,
      port,
      ...(authToken ? { authToken } : {}),
      ...(fileConfig?.webUI?.allowedHosts ? { allowedHosts: fileConfig.webUI.allowedHosts } : {}),
      ...(fileConfig?.webUI?.password ? { passwordHash: fileConfig.webUI.password } : {}),
      ...(fileConfig?.webUI?.metricsToken ? { metricsToken: fileConfig.webUI.metricsToken } : {}),
      ...(tls ? { tls } : {}),
      logger,
      version,
      stateDir: dir,
      signal: shutdown.signal,
      ...(fileConfig?.cluster ? { onListening: recordAt } : {}),
    });
    // The count of tools is worth a short wait for services; the endpoints already serve.
    await settledWithin(server.adapter.servicesStarted, 2000, shutdown.signal);
    shutdown.signal.throwIfAborted();
    const endpoints = server.adapter.endpoints();
    // What agents are given: a tool that cannot run here (an unsupported handler, task-only) is not.
    const tools = (await server.adapter.listTools()).filter(
      (t) => t.enabled && t.unavailable === undefined,
    ).length;
    const starting = server.adapter.services().filter((s) => s.state === "starting").length;
    const shown = reachable(server.url);
    const dashboardUrl = generated ? `${shown}#token=${authToken}` : shown;
    recordAt(server.url);
    if (generated) for (const line of m.server.generatedToken) say(line);
    const connected = endpoints.filter((e) => e.connected).length;
    // Nothing to connect: say why, so an empty list is not mistaken for a fault.
    const why =
      endpoints.length === 0 && !fileConfig?.cluster
        ? m.server.noEndpoints(selectEndpoints(fileConfig?.mcpEndpoint).skipped.length)
        : "";
    const ready = m.server.ready({
      url: dashboardUrl,
      connected,
      total: endpoints.length,
      why,
      tools,
      starting,
      config: lookup.path ?? null,
    });
    say(ready);
    logger.info({ url: server.url }, "ready");
    report({ type: "ready", line: ready });
    await shutdown.requested;
  } catch (error) {
    if (!shutdown.signal.aborted) {
      const message =
        (error as NodeJS.ErrnoException).code === "EADDRINUSE" && listening
          ? m.server.portInUse(listening.host, listening.port)
          : (error as Error).message;
      logger.error({ err: message }, "could not start");
      process.stderr.write(`xiaozhi-connect: ${message}\n`);
      report({ type: "failed", line: message });
      code = 1;
    }
  }
  await server?.close().catch((error) => logger.error({ err: String(error) }, "close failed"));
  await demo?.stop();
  removeRecord(dir, process.pid);
  shutdown.dispose();
  if (code === 0) logger.info("stopped");
  await closeLog(logStream);
  return code;
}

/** The rotating log file: at most `files` old files of `size` each beside the current one. */
function openLog(dir: string, { size, files }: { size: string; files: number }): RotatingFileStream {
  return createStream(logFileName, { path: dir, size, rotate: files, mode: 0o600 });
}

function closeLog(stream: RotatingFileStream | undefined): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("finish", () => resolve());
    stream.once("error", () => resolve());
    stream.end();
  });
}

/**
 * Installs the stop-signal handlers. The first signal (or the parent going away) aborts `signal`
 * and resolves `requested`, and arms a 5 s deadline; a second signal or the deadline kills every
 * service process and exits.
 */
function watchSignals(logger: Logger, watchParent: boolean) {
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
  const stop = (why: string) => {
    if (controller.signal.aborted) {
      logger.warn({ why }, "second signal: exiting now");
      hardExit(130);
    }
    logger.info({ why }, "shutting down");
    deadline = setTimeout(() => {
      logger.error("shutdown took longer than 5 s; exiting");
      hardExit(1);
    }, 5000);
    deadline.unref();
    controller.abort(new Error(`stopped: ${why}`));
    request();
  };
  const terminal = inTerminal();
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal === "SIGHUP" && !terminal) {
      logger.warn(
        "SIGHUP: nothing to reload: the config file applies as it is saved, and logs rotate by size; SIGTERM stops the server",
      );
      return;
    }
    stop(signal);
  };
  for (const signal of stopSignals) process.on(signal, onSignal);
  // The last resort: whatever way the process ends, its service processes end with it.
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", () => killServiceProcesses());
  }
  // A wrapper that dies (npx, pnpm killed by a supervisor) does not pass the signal on: notice that
  // a process this one was started through exited, instead of living on holding the port.
  const unwatch = watchParent
    ? watchAncestors((pid) => {
        if (!controller.signal.aborted) stop(`a process it was started through (pid ${pid}) exited`);
      })
    : () => {};
  return {
    signal: controller.signal,
    requested,
    dispose() {
      if (deadline !== undefined) clearTimeout(deadline);
      unwatch();
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

/**
 * The certificate and key `webUI.tls` names, read at start (relative to the config file); a file
 * that cannot be read is a config error naming the field and the path.
 */
function readTls(tls: { cert: string; key: string }, configPath: string): { cert: Buffer; key: Buffer } {
  const read = (field: "cert" | "key") => {
    const path = resolve(dirname(configPath), tls[field]);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new XiaozhiError(
        "INVALID_CONFIG",
        `webUI.tls.${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  };
  return { cert: read("cert"), key: read("key") };
}

/**
 * The dashboard's URL as another machine opens it: a server bound to every address (`0.0.0.0`,
 * `::`) is shown at this machine's first LAN address, else at loopback; any other as it is.
 */
export function reachable(url: string): string {
  const parsed = new URL(url);
  if (parsed.hostname !== "0.0.0.0" && parsed.hostname !== "[::]") return url;
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NetworkInterfaceInfo => a !== undefined && !a.internal);
  const lan =
    addresses.find((a) => a.family === "IPv4") ??
    addresses.find((a) => a.family === "IPv6" && !a.address.startsWith("fe80:"));
  parsed.hostname = !lan ? "127.0.0.1" : lan.family === "IPv6" ? `[${lan.address}]` : lan.address;
  return parsed.href;
}
