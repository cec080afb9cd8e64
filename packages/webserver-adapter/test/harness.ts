import "reflect-metadata";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { endpointId } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { container } from "tsyringe";
import { expect } from "vitest";
import {
  ConfigFile,
  createLogger,
  createXiaozhiRoutes,
  registerXiaozhi,
  XiaozhiConnectionAdapter,
  type XiaozhiRoutesOptions,
} from "../src/index.js";

/** An SDK client connected to the stack's `/mcp` (or `path`) with a client's bearer token, as an editor is. */
export async function mcpClient(
  base: string,
  token: string,
  path = "/mcp",
  name = "test-editor",
): Promise<Client> {
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}${path}`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

export const calcFixture = join(import.meta.dirname, "../../mcp-services/test/fixtures/calc-server.mjs");

/** Tokens shaped like the real ones, so any leak is easy to find. */
export const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;

/**
 * A whole stack in-process: a simulated Xiaozhi cloud, a config file, the adapter wired by
 * `registerXiaozhi` in a child container, and the routes on a real HTTP server on 127.0.0.1.
 * Every log line and every response body is kept, to scan for tokens.
 */
export class Stack {
  readonly logs: string[] = [];
  readonly responses: string[] = [];
  /** Every check the config watch made, with whether it found a change. */
  readonly checks: boolean[] = [];
  readonly #checkWaiters = new Set<() => void>();
  readonly dir = mkdtempSync(join(tmpdir(), "xz-adapter-"));
  readonly path: string;
  cloud!: SimulatedXiaozhiCloud;
  adapter!: XiaozhiConnectionAdapter;
  file!: ConfigFile;
  base!: string;
  routes: ReturnType<typeof createXiaozhiRoutes> | undefined;
  #close: (() => Promise<void>) | undefined;

  constructor(fileName = "xiaozhi.config.json") {
    this.path = join(this.dir, fileName);
  }

  static async start(
    config: Record<string, unknown> | string,
    routes: XiaozhiRoutesOptions & {
      waitForServices?: boolean;
      fileName?: string;
      /** Runs before anything starts, with the stack's folder (to put files beside the config). */
      beforeStart?: (dir: string) => void;
      /** The cloud's agents re-list on list_changed (editors do); by default they list only at connect. */
      relists?: boolean;
      /** Agent name → variable: the file says `${VARIABLE}` where that agent's token would be. */
      envRefs?: Record<string, string>;
    } = {},
  ): Promise<Stack> {
    const stack = new Stack(routes.fileName);
    routes.beforeStart?.(stack.dir);
    stack.cloud = await SimulatedXiaozhiCloud.start({ behavior: { relists: routes.relists ?? false } });
    // A string is the file's text as is (comments and all); `cloud:<name>` becomes that token's URL.
    const fill = (text: string) =>
      text.replace(/cloud:([\w-]+)/g, (_, name: string) => {
        const url = stack.cloud.endpointUrl(token(name));
        const variable = routes.envRefs?.[name];
        return variable ? url.replace(token(name), `\${${variable}}`) : url;
      });
    if (typeof config === "string") writeFileSync(stack.path, fill(config));
    else stack.writeConfig(JSON.parse(fill(JSON.stringify(config))));
    const logger = createLogger({
      level: "debug",
      destination: { write: (line: string) => stack.logs.push(line) },
    });
    stack.file = new ConfigFile(stack.path, {
      logger,
      debounceMs: 30,
      onCheck: (changed) => {
        stack.checks.push(changed);
        for (const wake of stack.#checkWaiters) wake();
      },
    });
    await stack.file.load();
    const child = registerXiaozhi(container.createChildContainer(), { configFile: stack.file, logger });
    stack.adapter = child.resolve(XiaozhiConnectionAdapter);
    // Routes (and their metrics) first, so the counters see the first connects.
    const app = createXiaozhiRoutes(stack.adapter, { ...routes, logger });
    stack.routes = app;
    await stack.adapter.start();
    // Endpoints never wait for services; tests that look at tools do.
    if (routes.waitForServices !== false) await stack.adapter.servicesStarted;
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    stack.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stack.#close = async () => {
      app.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stack.adapter.cleanup();
      await stack.cloud.stop();
    };
    return stack;
  }

  /** Replaces `cloud:<name>` with that token's URL, for text written by hand. */
  fill(text: string): string {
    return text.replace(/cloud:([\w-]+)/g, (_, name: string) => this.cloud.endpointUrl(token(name)));
  }

  url(name: string): string {
    return this.cloud.endpointUrl(token(name));
  }

  writeConfig(config: unknown): void {
    writeFileSync(this.path, `${JSON.stringify(config, null, 2)}\n`);
  }

  readConfig(): { mcpEndpoint?: unknown[] } & Record<string, unknown> {
    return JSON.parse(readFileSync(this.path, "utf8"));
  }

  /** Calls the API and keeps the body. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by each test
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    this.responses.push(text);
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  /** Resolves at the next check of the config file after now (its watch event or poll). */
  nextCheck(timeoutMs = 5000): Promise<boolean> {
    const seen = this.checks.length;
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (this.checks.length <= seen) return;
        clearTimeout(timer);
        this.#checkWaiters.delete(wake);
        resolve(this.checks[seen] as boolean);
      };
      const timer = setTimeout(() => {
        this.#checkWaiters.delete(wake);
        reject(new Error(`no config check within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#checkWaiters.add(wake);
    });
  }

  /** The names of the tools the agent of token `name` holds (see `SimulatedXiaozhiCloud.toolsOf`). */
  held(name: string): string[] | undefined {
    return this.cloud.toolsOf(token(name));
  }

  /** Resolves once the agent of token `name` holds tools that satisfy `predicate`. */
  untilHeld(
    name: string,
    predicate: (names: string[] | undefined) => boolean,
    timeoutMs = 10_000,
  ): Promise<string[] | undefined> {
    return this.cloud.untilTools(token(name), predicate, timeoutMs);
  }

  /** Sockets the cloud has accepted for token `name` so far. */
  sockets(name: string): number {
    return this.cloud.upgrades.get(token(name)) ?? 0;
  }

  /**
   * Resolves once `predicate` holds, checked now and again at every event of the adapter (endpoint,
   * services, config, tools, calls, round trips) and every socket the cloud opens or closes; rejects after
   * `timeoutMs` naming `what`. For state that has an event, instead of polling it.
   */
  until(predicate: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stops: (() => void)[] = [];
      const done = (error?: Error) => {
        clearTimeout(timer);
        for (const stop of stops) stop();
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (predicate()) done();
      };
      const timer = setTimeout(() => done(new Error(`${what} not met within ${timeoutMs} ms`)), timeoutMs);
      for (const event of ["endpoint", "removed", "services", "config", "tools", "call", "sample"] as const) {
        stops.push(this.adapter.on(event, check));
      }
      stops.push(this.cloud.onSessionCount(check));
    });
  }

  /** The endpoint id of a token name. */
  idOf(name: string): string {
    return endpointId(this.url(name));
  }

  async close(): Promise<void> {
    await this.#close?.();
  }
}

/** Closes a stack and checks that nothing it logged or answered carries a token. */
export async function finish(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await stack.close();
  expect(stack.logs.join("\n")).not.toMatch(/tok-secret|eyJhbGciOiJIUzI1NiJ9/);
  expect(stack.responses.join("\n")).not.toMatch(/tok-secret|eyJhbGciOiJIUzI1NiJ9/);
}

export { until } from "@xiaozhi-connect/core/testing";
