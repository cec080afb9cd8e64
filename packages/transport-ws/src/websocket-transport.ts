import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { XiaozhiError } from "@xiaozhi-connect/core";
import WebSocket from "ws";
import {
  answerForInvalidFrame,
  type JsonRpcErrorAnswer,
  oneLineSchemaError,
  parseErrorAnswer,
} from "./jsonrpc-errors.js";

/** Why a frame was dropped instead of delivered. */
export class MalformedFrameError extends Error {
  override readonly name = "MalformedFrameError";
}

/**
 * Brings a frame as Xiaozhi peers send it within the JSON-RPC schema the SDK validates:
 * `"params": null` (the self-hosted manager's tools/list refresh) means "no params".
 * Everything else is left to the SDK's own validation.
 */
export function normalizeFrame(value: unknown): unknown {
  if (typeof value === "object" && value !== null && "params" in value && value.params === null) {
    const { params: _params, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  return value;
}

/** What a received frame holds: its JSON value (null-params normalised), or that it is not JSON. */
export type ReadFrame = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

const notJson: ReadFrame = Object.freeze({ ok: false });

/** Reads one WebSocket frame as JSON; binary frames and text that is not JSON are not. */
export function readFrame(data: WebSocket.RawData, isBinary: boolean): ReadFrame {
  if (isBinary) return notJson;
  try {
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
    return { ok: true, value: normalizeFrame(JSON.parse(text)) };
  } catch {
    return notJson;
  }
}

/**
 * Refuses a frame: sends its answer when it deserves one and the socket is open, and returns the
 * error that says so. The socket stays up.
 */
export function refuseFrame(
  socket: WebSocket,
  answer: JsonRpcErrorAnswer | undefined,
  reason: string,
): MalformedFrameError {
  if (answer && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(answer), () => {});
  return new MalformedFrameError(`malformed frame ${answer ? "answered" : "dropped"} (${reason})`);
}

export interface WebSocketTransportOptions {
  /** Called for every frame received, before parsing (liveness, counters). */
  readonly onFrame?: () => void;
  /** Delays every outgoing frame by this many ms (fault injection in the simulated cloud). */
  readonly sendDelayMs?: () => number;
}

/**
 * The MCP SDK `Transport` over one already-open `ws` socket, usable on either side. Framing is one
 * JSON-RPC message per text frame; validation is the SDK's `JSONRPCMessageSchema`. A malformed frame
 * is answered as JSON-RPC 2.0 asks (-32700 for non-JSON, -32600 for invalid requests and batches,
 * -32602 for params that are not an object; never for notifications or responses), reported through
 * `onerror` and dropped: the socket stays up.
 */
export class WebSocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  #closed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly options: WebSocketTransportOptions = {},
  ) {
    socket.on("message", this.#onMessage);
    socket.once("close", this.#onClose);
  }

  async start(): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) {
      throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
    }
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    const delay = this.options.sendDelayMs?.() ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.socket.readyState !== WebSocket.OPEN) {
      throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
    }
    // The SDK answers a request whose params fail its schema with -32603 and a dump: -32602, one line.
    const data = JSON.stringify("error" in message ? oneLineSchemaError(message) : message);
    await new Promise<void>((resolve, reject) => {
      this.socket.send(data, (error) =>
        error
          ? reject(new XiaozhiError("SEND_FAILED", `send failed: ${error.message}`, { cause: error }))
          : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000);
    }
    this.#onClose();
  }

  /** Detaches from the socket without closing it. */
  detach(): void {
    this.socket.off("message", this.#onMessage);
    this.socket.off("close", this.#onClose);
  }

  readonly #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    this.options.onFrame?.();
    const frame = readFrame(data, isBinary);
    if (!frame.ok) {
      this.onerror?.(refuseFrame(this.socket, parseErrorAnswer, "not JSON"));
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(frame.value);
    if (parsed.success) {
      this.onmessage?.(parsed.data);
      return;
    }
    this.onerror?.(refuseFrame(this.socket, answerForInvalidFrame(frame.value), "not JSON-RPC"));
  };

  readonly #onClose = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.detach();
    this.onclose?.();
  };
}
