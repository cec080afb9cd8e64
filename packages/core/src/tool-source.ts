/** A tool as offered to a Xiaozhi agent; structurally an MCP `Tool`. */
export interface ToolDescriptor {
  readonly name: string;
  readonly title?: string | undefined;
  readonly description?: string | undefined;
  readonly inputSchema: { readonly type: "object"; readonly [key: string]: unknown };
  readonly outputSchema?: { readonly type: "object"; readonly [key: string]: unknown } | undefined;
  readonly annotations?:
    | {
        readonly title?: string | undefined;
        readonly readOnlyHint?: boolean | undefined;
        readonly destructiveHint?: boolean | undefined;
        readonly idempotentHint?: boolean | undefined;
        readonly openWorldHint?: boolean | undefined;
      }
    | undefined;
}

/** The result of a tool call; structurally an MCP `CallToolResult`. */
export interface ToolCallResult {
  readonly content: readonly unknown[];
  readonly structuredContent?: Record<string, unknown> | undefined;
  readonly isError?: boolean | undefined;
  readonly [key: string]: unknown;
}

export interface ToolCallOptions {
  /** Aborted when the caller gives up (timeout, `notifications/cancelled`, shutdown). */
  readonly signal: AbortSignal;
  /**
   * Set when the caller asked for progress (`_meta.progressToken`): a source that can report
   * progress (an MCP service's `notifications/progress`) passes each report here, in order, before
   * the call settles.
   */
  readonly onProgress?: ((progress: ToolProgress) => void) | undefined;
  /** Who is calling: passed to MCP services in `_meta` under `callerMetaKey`. */
  readonly caller?: ToolCaller | undefined;
}

/** One progress report of a running call, as MCP's `notifications/progress` carries it. */
export interface ToolProgress {
  readonly progress: number;
  readonly total?: number | undefined;
  readonly message?: string | undefined;
}

/**
 * The agent a call comes from. `endpointId` is the endpoint's stable id (a hash, never the URL),
 * `name` the endpoint's name, `agentId` what the Xiaozhi side put in the request's `_meta` (the
 * cloud sends it; absent otherwise).
 */
export interface ToolCaller {
  readonly endpointId: string;
  readonly name?: string | undefined;
  readonly agentId?: string | number | undefined;
}

/**
 * The `_meta` key under which every `tools/call` sent to an MCP service carries its `ToolCaller`:
 * `params._meta["xiaozhi-connect/caller"] = {endpointId, name?, agentId?}`. Arguments are never touched.
 */
export const callerMetaKey = "xiaozhi-connect/caller";

/**
 * Where an endpoint's tools come from (the local MCP services): the contract a tool provider
 * implements. One source serves every endpoint: implementations must not copy their tool list per
 * caller.
 */
export interface ToolSource {
  /** The version of this contract the implementation follows. */
  readonly specificationVersion: "v1";
  /** The tools currently offered. Called on every `tools/list`; keep it cheap. */
  listTools(): readonly ToolDescriptor[] | Promise<readonly ToolDescriptor[]>;
  /**
   * Runs a tool. Must honour `options.signal` by cancelling the upstream work. A tool that ran and
   * failed resolves with `isError: true`; a rejection means the call could not run (unknown tool,
   * service down), and an `XiaozhiError` with code `NOT_CONNECTED` or `SEND_FAILED` promises it
   * never reached the tool. The result goes to the agent as it is, so it must be a valid MCP
   * `CallToolResult` (an SDK client's results are: the SDK checked them when they arrived).
   */
  callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    options: ToolCallOptions,
  ): Promise<ToolCallResult>;
  /** Called whenever the list may have changed; returns the unsubscribe function. */
  onToolsChanged(listener: () => void): () => void;
  /**
   * Optional: while tools are still on their way (a service starting for the first time), a
   * promise that settles once they have arrived or will not; `undefined` when nothing is pending.
   * A transport answering an agent that reads the list only once waits for it, within a bound of
   * its own, so the agent's one list is the whole list. Never rejects.
   */
  ready?(): Promise<void> | undefined;
  /** Optional: stops what the source runs (service processes, connections); called once at shutdown. */
  dispose?(): void | Promise<void>;
}

const noTools: readonly ToolDescriptor[] = Object.freeze([]);

/**
 * A source with no tools; calls fail with an MCP-style error result. Its list is one array, so
 * what is worked out from a list (its fingerprint) is worked out once, not per connection.
 */
export const emptyToolSource: ToolSource = {
  specificationVersion: "v1",
  listTools: () => noTools,
  callTool: async (name) => ({ content: [{ type: "text", text: `Unknown tool: ${name}` }], isError: true }),
  onToolsChanged: () => () => {},
};
