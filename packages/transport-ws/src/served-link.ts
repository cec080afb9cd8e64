import type { CallToolResult, JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import {
  type ConnectionEventMap,
  describeError,
  type Emitter,
  redact,
  type ToolCaller,
  type ToolCallOptions,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import WebSocket from "ws";

/** One socket as the shared tool server sees it. */
export interface ServedLink {
  readonly socket: WebSocket;
  /** Where this link's tools come from; links of one server may differ. */
  readonly tools: ToolSource;
  /** The link's connection events: `initialized`, `handled` and `error` go there. */
  readonly events: Emitter<ConnectionEventMap>;
  /** The agent behind the link, as tools see it in `_meta` (see `callerMetaKey`); none when absent. */
  readonly caller?: ToolCaller;
  /** Largest `tools/call` answer in bytes, read at each answer; 0 or absent: no limit. */
  readonly maxResultBytes?: number;
  initialized: boolean;
  /** Requests of the far side not answered yet, and requests to it not answered yet. */
  incoming: number;
  outgoing: number;
  /** Fingerprint of the tool list the far side last received here (see `toolListFingerprint`). */
  listed: string | undefined;
  /** The far side received a tool list. */
  onListed(): void;
  /** The tools this link's source offers may have changed (coalesced per source). */
  onToolsChanged(): void;
  /** The link's last request of the far side was answered. */
  onIdle(): void;
}

export interface ToolServerOptions {
  readonly serverInfo: { readonly name: string; readonly version: string };
  /** The tool-call deadline in ms, read at each call so a reload reaches calls made after it. */
  readonly callTimeout: number;
  /** How long a `tools/list` waits for tools still on their way (`ToolSource.ready`), ms. */
  readonly toolsWait: number;
}

export function handled(
  link: ServedLink,
  method: string,
  ok: boolean,
  started: number,
  tool?: string,
  truncated?: { readonly from: number; readonly to: number },
): void {
  const ms = performance.now() - started;
  const at = Date.now();
  link.events.emit("handled", {
    method,
    ...(tool === undefined ? {} : { tool }),
    ok,
    ms,
    at,
    ...(truncated === undefined ? {} : { truncated }),
  });
}

/** A failed call as its caller sees it: an `isError` result with a token-free message. */
export function failure(error: unknown): CallToolResult {
  return { content: [{ type: "text", text: redact(describeError(error)) }], isError: true };
}

/**
 * Runs a call on the link's ToolSource and hands its result to `settle`; a throw or a rejection
 * becomes an `isError` result.
 */
export function runTool(
  link: ServedLink,
  name: string,
  args: Record<string, unknown> | undefined,
  signal: AbortSignal,
  settle: (result: CallToolResult) => void,
  extras: Omit<ToolCallOptions, "signal"> = {},
): void {
  let call: Promise<unknown>;
  try {
    call = Promise.resolve(link.tools.callTool(name, args, { ...extras, signal }));
  } catch (error) {
    call = Promise.reject(error);
  }
  call.then(
    (result) => settle(result as CallToolResult),
    (error: unknown) => settle(failure(error)),
  );
}

/** Writes one message to the link's socket; rejects `NOT_CONNECTED` or `SEND_FAILED`. */
export function write(link: ServedLink, message: JSONRPCMessage): Promise<void> {
  const socket = link.socket;
  if (socket.readyState !== WebSocket.OPEN) {
    return Promise.reject(new XiaozhiError("NOT_CONNECTED", "socket is not open"));
  }
  const data = JSON.stringify(message);
  return new Promise<void>((resolve, reject) => {
    socket.send(data, (error) =>
      error
        ? reject(new XiaozhiError("SEND_FAILED", `send failed: ${error.message}`, { cause: error }))
        : resolve(),
    );
  });
}

/**
 * Writes an answer to the far side's request, without waiting for the write: an answer that cannot
 * leave has nobody to tell, and a socket whose write fails closes (its calls end with it).
 */
export function answer(link: ServedLink, message: JSONRPCMessage): void {
  if (link.socket.readyState === WebSocket.OPEN) link.socket.send(JSON.stringify(message));
}

/** Reports a problem on the link as an `error` event, tokens redacted; the link stays up. */
export function report(link: ServedLink, error: unknown): void {
  link.events.emit("error", { error: new Error(redact(describeError(error))), at: Date.now() });
}
