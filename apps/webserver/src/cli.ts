import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "@xiaozhi-connect/core";
import { createLogger, parseConfigText } from "@xiaozhi-connect/webserver-adapter";
import pretty from "pino-pretty";
import { type Demo, startDemo } from "./demo.js";
import { findConfig, isLoopback, parseOptions, usage } from "./options.js";
import { startWebServer, type WebServer } from "./web-server.js";

const version = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/**
 * Runs the WebServer until SIGINT/SIGTERM and returns the exit code. The first signal shuts down
 * gracefully (every endpoint closed with 1000, services and children stopped) within 5 s; a second
 * one exits at once.
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
  let server: WebServer | undefined;
  let demo: Demo | undefined;
  try {
    const lookup = findConfig(options.config, env);
    const fileConfig = lookup.path ? parseConfigText(readFileSync(lookup.path, "utf8")) : undefined;
    if (!lookup.path) {
      const flakyEveryMs = Number(env.XIAOZHI_DEMO_FLAKY_MS) || undefined;
      demo = await startDemo({ logger, ...(flakyEveryMs ? { flakyEveryMs } : {}) });
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
    });
    const endpoints = server.adapter.endpoints();
    const tools = (await server.adapter.listTools()).filter((t) => t.enabled).length;
    const dashboardUrl = generated ? `${server.url}#token=${authToken}` : server.url;
    if (generated)
      say("xiaozhi-connect: bound beyond loopback; changes need this bearer token (shown once):");
    if (generated) say(`  ${authToken}`);
    say(
      `xiaozhi-connect ready: dashboard ${dashboardUrl} · endpoints ${endpoints.filter((e) => e.connected).length}/${endpoints.length} connected · ${tools} tools · config ${lookup.path ?? "demo mode"}`,
    );
  } catch (error) {
    logger.error({ err: (error as Error).message }, "could not start");
    process.stderr.write(`xiaozhi-connect: ${(error as Error).message}\n`);
    await server?.close();
    await demo?.stop();
    return 1;
  }
  return waitForSignal(server, demo, logger);
}

function waitForSignal(server: WebServer, demo: Demo | undefined, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, "shutting down");
      const force = setTimeout(() => {
        logger.error("shutdown took longer than 5 s; exiting");
        process.exit(1);
      }, 5000);
      force.unref();
      const stop = async () => {
        await server.close().catch((error) => logger.error({ err: String(error) }, "close failed"));
        await demo?.stop();
      };
      void stop().then(() => {
        clearTimeout(force);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        logger.info("stopped");
        resolve(0);
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
