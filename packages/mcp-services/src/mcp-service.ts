import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  CallToolResultSchema,
  ProgressNotificationSchema,
  type Tool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import {
  callerMetaKey,
  describeError,
  type Logger,
  redact,
  silentLogger,
  type ToolCallOptions,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { withoutLateCancels } from "./late-cancels.js";
import { type ReplicaConfig, transportKind } from "./service-config.js";
import { LineTooLongError, ServiceStdioTransport } from "./stdio-transport.js";

/** The longest timer Node accepts: "no deadline of our own", the caller's signal decides. */
export const noDeadline = 2 ** 31 - 1;

/** What a call carries besides its arguments: who calls, and where its progress goes. */
export type CallExtras = Pick<ToolCallOptions, "caller" | "onProgress">;

/** `starting` (handshake under way), `up`, `down` (failed or ended; its supervisor decides), `stopped`. */
export type ServiceState = "starting" | "up" | "down" | "stopped";

export interface McpServiceOptions {
  readonly logger?: Logger | undefined;
  /** Called whenever the service's tool list may have changed (listed, ended, re-listed). */
  readonly onToolsChanged?: (() => void) | undefined;
  /** Client name announced to the service. */
  readonly clientInfo?: { readonly name: string; readonly version: string } | undefined;
  /** Called once, with the reason, when a service that was up goes down (process exit, link closed). */
  readonly onClosed?: ((reason: string) => void) | undefined;
  /**
   * The environment a stdio service starts with, before its own `env`; default this process's.
   * Asked at every start, so a host can keep its own secrets (an admin token, the variables its
   * endpoint URLs read) from services as its config changes.
   */
  readonly environment?: () => Readonly<Record<string, string | undefined>>;
}

/**
 * One local MCP service behind an SDK Client: connects it, lists its tools, re-lists on its
 * `tools/list_changed`, and when its process or connection ends, marks it down (its tools vanish)
 * and says why. It never restarts by itself: a supervisor (core's ConnectionManager, through
 * `ReplicaConnection`) decides when to try again, so one failure is one log line and one timer.
 */
export class McpService {
  #state: ServiceState = "stopped";
  #client: Client | undefined;
  /** The client of the attempt under way, so `stop()` can end a handshake that never finishes. */
  #starting: Client | undefined;
  #transport: Transport | undefined;
  #tools: readonly Tool[] = [];
  #lastError: string | undefined;
  /** A fatal transport error (a refused line, a failed spawn) that explains the close after it. */
  #fatal: string | undefined;
  readonly #options: McpServiceOptions;
  /** Where the progress of calls still running goes, by the token this service was given. */
  readonly #progress = new Map<string, NonNullable<CallExtras["onProgress"]>>();
  #nextToken = 0;

  constructor(
    readonly name: string,
    readonly config: ReplicaConfig,
    options: McpServiceOptions = {},
  ) {
    this.#options = options;
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The service's own tools while it is up; empty otherwise. */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** Why the service is not up: the child's stderr tail, `spawn … ENOENT`, the refused address… */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * Connects and lists tools; resolves once the service is up. Throws `CONNECT_FAILED` with the
   * specific reason when it cannot start, and `ABORTED` when `signal` (its handshake deadline, a
   * stop) ends the attempt; either way the process of the attempt is ended.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#state === "up" || this.#starting) return;
    signal?.throwIfAborted();
    this.#state = "starting";
    this.#fatal = undefined;
    const client = new Client(this.#options.clientInfo ?? { name: "xiaozhi-connect", version: "0.0.0" });
    // A call's signal may abort after its answer came: the SDK would then cancel it all the same.
    const transport = withoutLateCancels(this.#createTransport());
    this.#starting = client;
    this.#transport = transport;
    client.onerror = (error) => {
      if (error instanceof LineTooLongError || (error as NodeJS.ErrnoException).syscall === "spawn") {
        this.#fatal = describeError(error);
      }
      this.#log("debug", "service error", error);
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.#relist(client);
    });
    // Replaces the SDK's own progress routing, which forgets a call's token as soon as its answer
    // is read: reports that arrived in the same read as the answer would be lost.
    client.setNotificationHandler(ProgressNotificationSchema, ({ params }) => {
      const { progressToken, progress, total, message } = params;
      this.#progress.get(String(progressToken))?.({
        progress,
        ...(total === undefined ? {} : { total }),
        ...(message === undefined ? {} : { message }),
      });
    });
    // Set before connect: the SDK chains its own close handling (failing pending requests) after it.
    transport.onclose = () => this.#ended(client);
    const abandon = () => void client.close().catch(() => {});
    signal?.addEventListener("abort", abandon, { once: true });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools(undefined, signal ? { signal } : undefined);
      signal?.throwIfAborted();
      if (this.#starting !== client) throw new XiaozhiError("ABORTED", `service ${this.name} was stopped`);
      this.#starting = undefined;
      this.#client = client;
      this.#state = "up";
      this.#lastError = undefined;
      this.#setTools(tools);
      this.#options.logger?.info({ service: this.name, tools: tools.length }, "service up");
    } catch (error) {
      await client.close().catch(() => {});
      if (this.#starting === client) {
        this.#starting = undefined;
        this.#state = "down";
      }
      if (signal?.aborted) {
        // A start that ran out of time says so; one given up on purpose (a stop) keeps the last reason.
        const timedOut = XiaozhiError.isInstance(signal.reason) && signal.reason.code === "CONNECT_TIMEOUT";
        if (timedOut) this.#lastError = this.#reason(signal.reason);
        throw signal.reason;
      }
      this.#lastError = this.#reason(error);
      throw new XiaozhiError("CONNECT_FAILED", this.#lastError, { cause: error });
    } finally {
      signal?.removeEventListener("abort", abandon);
    }
  }

  /**
   * Calls one of the service's tools. The caller (`extras.caller`) goes in `_meta` under
   * `callerMetaKey`; with `extras.onProgress` the request carries a progress token of its own
   * (unique per request, so two agents' equal tokens never meet at the service) and every
   * `notifications/progress` for it that arrives before the answer is passed on.
   */
  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
    extras: CallExtras = {},
  ): Promise<CallToolResult> {
    const client = this.#client;
    if (!client || this.#state !== "up") {
      throw new XiaozhiError("NOT_CONNECTED", `service ${this.name} is ${this.#state}`);
    }
    const request = callSignal(signal);
    const { caller, onProgress } = extras;
    const token = onProgress === undefined ? undefined : `p${++this.#nextToken}`;
    const meta = {
      ...(caller === undefined ? {} : { [callerMetaKey]: { ...caller } }),
      ...(token === undefined ? {} : { progressToken: token }),
    };
    if (token !== undefined && onProgress !== undefined) this.#progress.set(token, onProgress);
    try {
      // The caller's signal carries the deadline; the SDK's own timeout must not cut it shorter.
      return (await client.callTool(
        {
          name,
          ...(args === undefined ? {} : { arguments: args }),
          ...(Object.keys(meta).length === 0 ? {} : { _meta: meta }),
        },
        CallToolResultSchema,
        { signal: request.signal, timeout: noDeadline },
      )) as CallToolResult;
    } finally {
      request.dispose();
      if (token !== undefined) this.#progress.delete(token);
    }
  }

  /** Measures a round trip to the service with MCP `ping`, in ms. */
  async ping(signal?: AbortSignal): Promise<number> {
    const client = this.#client;
    if (!client || this.#state !== "up") {
      throw new XiaozhiError("NOT_CONNECTED", `service ${this.name} is ${this.#state}`);
    }
    const started = performance.now();
    await client.ping(signal ? { signal } : undefined);
    return performance.now() - started;
  }

  /** Stops the service and its child process, a handshake under way included. */
  async stop(): Promise<void> {
    const clients = [this.#client, this.#starting];
    this.#client = undefined;
    this.#starting = undefined;
    this.#state = "stopped";
    this.#setTools([]);
    await Promise.all(clients.map((client) => client?.close().catch(() => {})));
  }

  #ended(client: Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#lastError = this.#reason(new Error("connection closed"));
    // State first, so listeners told of the vanished tools already see the service down.
    this.#state = "down";
    this.#setTools([]);
    // The supervisor logs the drop and schedules the restart: one line, one timer.
    this.#options.onClosed?.(this.#lastError);
  }

  /** The most specific reason there is: a fatal transport error, the stderr tail, the cause. */
  #reason(error: unknown): string {
    const stderr = this.#transport instanceof ServiceStdioTransport ? this.#transport.stderrTail : "";
    const exit = this.#transport instanceof ServiceStdioTransport ? this.#transport.exitDescription : "";
    const base = this.#fatal ?? describeServiceError(error, this.config);
    const parts = [
      base,
      exit && !base.includes(exit) ? exit : "",
      stderr ? `stderr: ${lastLines(stderr)}` : "",
    ];
    return redact(parts.filter(Boolean).join("; "));
  }

  #createTransport(): Transport {
    const config = this.config;
    const kind = transportKind(config);
    if ("command" in config) {
      return new ServiceStdioTransport({
        command: config.command,
        args: [...(config.args ?? [])],
        env: { ...definedOnly(this.#options.environment?.() ?? process.env), ...config.env },
        ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
        ...(config.maxLineBytes === undefined ? {} : { maxLineBytes: config.maxLineBytes }),
      });
    }
    const url = new URL(config.url);
    const requestInit = config.headers ? { requestInit: { headers: { ...config.headers } } } : {};
    return kind === "sse"
      ? new SSEClientTransport(url, requestInit)
      : new StreamableHTTPClientTransport(url, requestInit);
  }

  async #relist(client: Client): Promise<void> {
    if (client !== this.#client) return;
    try {
      const { tools } = await client.listTools();
      if (client === this.#client) this.#setTools(tools);
    } catch (error) {
      this.#log("warn", "re-listing tools failed", error);
    }
  }

  #setTools(tools: readonly Tool[]): void {
    if (tools === this.#tools || (tools.length === 0 && this.#tools.length === 0)) return;
    this.#tools = tools;
    this.#options.onToolsChanged?.();
  }

  #log(level: "debug" | "warn", message: string, error: unknown): void {
    (this.#options.logger ?? silentLogger)[level](
      { service: this.name, err: redact(describeError(error)) },
      message,
    );
  }
}

/**
 * Describes why a service could not be reached in terms a user can act on: `fetch failed` becomes
 * `fetch failed (connect ECONNREFUSED 127.0.0.1:8080)`, the SDK's "Connection closed" names the
 * service's address.
 */
export function describeServiceError(error: unknown, config: ReplicaConfig): string {
  let text = describeError(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause instanceof Error && cause.message && !text.includes(cause.message)) text += ` (${cause.message})`;
  const address = "url" in config ? safeOrigin(config.url) : undefined;
  if (address && !text.includes(address)) text += ` [${address}]`;
  return text;
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

function lastLines(text: string): string {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const tail = lines.slice(-5);
  // A Node crash ends in its stack and details (`code: 'MODULE_NOT_FOUND'`), its message above
  // them: the last line that names an error goes first when the tail does not hold it.
  let cause: string | undefined;
  for (let i = lines.length - 1; i >= 0 && cause === undefined; i--) {
    if (errorLine.test(lines[i] as string)) cause = (lines[i] as string).trim();
  }
  const shown = tail.join(" | ");
  if (cause === undefined || tail.some((line) => line.trim() === cause)) return shown.slice(-600);
  return `${cause.slice(0, 300)} | … | ${shown.slice(-300)}`;
}

/** `Error: …`, `TypeError [CODE]: …`, `ModuleNotFoundError: …`: a line that says what went wrong. */
const errorLine = /^\s*[\w.]*(?:Error|Exception)(?: \[\w+\])?: \S/;

/** Signals calls were given, to tell a signal a caller shares between calls from a call's own. */
const givenSignals = new WeakSet<AbortSignal>();
const keep = () => {};

/**
 * The signal to hand the SDK for one call. The SDK adds an abort listener to the signal of every
 * request and never removes it, which is harmless for a call's own signal (the usual case: an
 * agent's request has one) but piles up on one shared by many calls. A signal seen before goes
 * through a controller of this call's own, linked to it until the call ends.
 */
function callSignal(signal: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (!givenSignals.has(signal)) {
    givenSignals.add(signal);
    return { signal, dispose: keep };
  }
  const own = new AbortController();
  const abort = () => own.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort, { once: true });
  return { signal: own.signal, dispose: () => signal.removeEventListener("abort", abort) };
}

/** The variables that have a value: a child's environment holds strings only. */
function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}
