import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  CallToolResultSchema,
  type JSONRPCMessage,
  type Tool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import {
  type BackoffOptions,
  backoffDelay,
  ConnectError,
  defaultBackoff,
  describeError,
  type Logger,
  redact,
  silentLogger,
} from "@xiaozhi-connect/core";
import { type ReplicaConfig, transportKind } from "./service-config.js";

/** The longest timer Node accepts: "no deadline of our own", the caller's signal decides. */
export const noDeadline = 2 ** 31 - 1;

/** `starting` (connecting or restarting), `up`, `down` (crashed, restart scheduled), `stopped`. */
export type ServiceState = "starting" | "up" | "down" | "stopped";

export interface McpServiceOptions {
  readonly logger?: Logger;
  /** Restart backoff after a crash; default 1 s ×2 up to 60 s, full jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** A restarted service that stays up this long resets its backoff; default 10000 ms. */
  readonly minUptime?: number;
  /** Called whenever the service's tool list may have changed (listed, crashed, re-listed). */
  readonly onToolsChanged?: () => void;
  /** Client name announced to the service. */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /**
   * Restart by itself after a crash; default true. A supervisor that decides on restarts itself (a
   * replica's ConnectionManager) turns it off and listens to `onClosed`.
   */
  readonly restart?: boolean;
  /** Called once when a service that was up goes down (process exit, connection closed). */
  readonly onClosed?: (reason: string) => void;
}

/**
 * One local MCP service behind an SDK Client: connects it, lists its tools, re-lists on its
 * `tools/list_changed`, and when its process or connection dies, marks it down (its tools vanish)
 * and restarts it with backoff until stopped.
 */
export class McpService {
  #state: ServiceState = "stopped";
  #client: Client | undefined;
  #tools: readonly Tool[] = [];
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #attempts = 0;
  #upSince = 0;
  #stopping = false;
  #lastError: string | undefined;
  readonly #options: McpServiceOptions;
  readonly #backoff: BackoffOptions;

  constructor(
    readonly name: string,
    readonly config: ReplicaConfig,
    options: McpServiceOptions = {},
  ) {
    this.#options = options;
    this.#backoff = { ...defaultBackoff, ...options.backoff };
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The service's own tools while it is up; empty otherwise. */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Connects and lists tools. Resolves either way; a failure schedules a restart. */
  async start(): Promise<void> {
    this.#stopping = false;
    if (this.#state === "up" || this.#state === "starting") return;
    await this.#connect();
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const client = this.#client;
    if (!client || this.#state !== "up") {
      throw new ConnectError("NOT_CONNECTED", `service ${this.name} is ${this.#state}`);
    }
    // The caller's signal carries the deadline; the SDK's own timeout must not cut it shorter.
    return (await client.callTool(
      { name, ...(args === undefined ? {} : { arguments: args }) },
      CallToolResultSchema,
      {
        signal,
        timeout: noDeadline,
      },
    )) as CallToolResult;
  }

  /** Measures a round trip to the service with MCP `ping`, in ms. */
  async ping(signal?: AbortSignal): Promise<number> {
    const client = this.#client;
    if (!client || this.#state !== "up") {
      throw new ConnectError("NOT_CONNECTED", `service ${this.name} is ${this.#state}`);
    }
    const started = performance.now();
    await client.ping(signal ? { signal } : undefined);
    return performance.now() - started;
  }

  /** Stops the service (and its child process); no restart follows. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#state = "stopped";
    this.#setTools([]);
    await client?.close().catch(() => {});
  }

  async #connect(): Promise<void> {
    this.#state = "starting";
    const client = new Client(this.#options.clientInfo ?? { name: "xiaozhi-connect", version: "0.0.0" });
    const transport = this.#transport();
    let settled = false;
    transport.onclose = () => {
      if (settled) this.#crashed(client, "connection closed");
    };
    client.onerror = (error) => this.#log("debug", "service error", error);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.#relist(client);
    });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      settled = true;
      if (this.#stopping) {
        await client.close().catch(() => {});
        return;
      }
      this.#client = client;
      this.#state = "up";
      this.#upSince = Date.now();
      this.#lastError = undefined;
      this.#setTools(tools);
      this.#options.logger?.info({ service: this.name, tools: tools.length }, "service up");
    } catch (error) {
      settled = true;
      await client.close().catch(() => {});
      this.#crashed(client, describeError(error));
    }
  }

  #transport(): Transport {
    const config = this.config;
    const kind = transportKind(config);
    if ("command" in config) {
      return new AcknowledgedStdioTransport({
        command: config.command,
        args: [...(config.args ?? [])],
        env: { ...(process.env as Record<string, string>), ...config.env },
        ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
        stderr: "pipe",
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

  #crashed(client: Client, reason: string): void {
    if (this.#stopping || (this.#client !== undefined && this.#client !== client)) return;
    const wasUp = this.#state === "up";
    this.#client = undefined;
    this.#lastError = redact(reason);
    if (Date.now() - this.#upSince >= (this.#options.minUptime ?? 10_000) && this.#state === "up") {
      this.#attempts = 0;
    }
    // State first, so listeners told of the vanished tools already see the service down.
    this.#state = "down";
    this.#setTools([]);
    if (this.#options.restart === false) {
      this.#options.logger?.warn({ service: this.name, reason: this.#lastError }, "service down");
      if (wasUp) this.#options.onClosed?.(this.#lastError);
      return;
    }
    const delay = backoffDelay(this.#attempts++, this.#backoff);
    this.#options.logger?.warn(
      { service: this.name, reason: this.#lastError, restartInMs: delay },
      "service down",
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      void this.#connect();
    }, delay);
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
 * The SDK's stdio transport, except that `send` settles only when the bytes were handed to the
 * pipe, and fails with `SEND_FAILED` when they could not be (the process is gone: EPIPE). A request
 * that failed that way provably never reached the service, so a replicated service can run it on
 * another replica.
 */
class AcknowledgedStdioTransport extends StdioClientTransport {
  override send(message: JSONRPCMessage): Promise<void> {
    // The SDK keeps its child process in `_process` (sdk 1.32); without it, fall back to its send.
    const stdin = (
      this as unknown as { _process?: { stdin?: NodeJS.WritableStream & { writable: boolean } } }
    )._process?.stdin;
    if (!stdin) return super.send(message);
    if (!stdin.writable) {
      return Promise.reject(new ConnectError("SEND_FAILED", "the service's stdin is closed"));
    }
    return new Promise((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) =>
        error
          ? reject(new ConnectError("SEND_FAILED", `could not write to the service: ${error.message}`))
          : resolve(),
      );
    });
  }
}
