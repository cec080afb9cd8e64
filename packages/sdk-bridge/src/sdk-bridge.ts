import type { ChildProcess } from "node:child_process";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { AnyObjectSchema } from "@modelcontextprotocol/sdk/server/zod-compat.js";
import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";

// Every use of a member the MCP SDK does not document sits in this file, checked against the
// installed SDK by `sdk-bridge.test.ts`. Each access tests the shape it finds and falls back to the
// SDK's public behaviour when the shape moved, so a new SDK release degrades speed or detail,
// never correctness; the contract test is what says so, loudly, before a release ships with it.

/** The handler `Server#setRequestHandler` takes for requests of `schema`. */
export type RequestHandler<S extends AnyObjectSchema> = Parameters<
  typeof Server.prototype.setRequestHandler<S>
>[1];

/**
 * Registers `handler` the way the SDK's base `Protocol` does: the request is parsed once against
 * `schema` and the handler's result is sent as it is. `Server` wraps its own registration of
 * `tools/call` in a second parse of the request and a parse of the result; a server whose results
 * were already checked (an MCP service's results are checked by the SDK client that received
 * them) saves both.
 *
 * The base registration is found on the server's own prototype chain, not by `instanceof` against
 * this package's import of `Protocol`: an application that ends up with two copies of the SDK
 * (one for this package, one for the caller) still gets it.
 *
 * Fallback: should `Server` stop having a base class with its own `setRequestHandler`, the
 * Server's own registration (the extra parses cost time; a valid call gets the same answer).
 * Returns whether the base registration was used.
 */
export function setBaseRequestHandler<S extends AnyObjectSchema>(
  server: Server,
  schema: S,
  handler: RequestHandler<S>,
): boolean {
  const base = baseProtocolOf(server);
  if (base) {
    (base.setRequestHandler as (schema: S, handler: RequestHandler<S>) => void).call(server, schema, handler);
    return true;
  }
  server.setRequestHandler(schema, handler);
  return false;
}

/** The prototype of the class `Server` extends (the SDK's `Protocol`), when it still has that shape. */
function baseProtocolOf(server: Server): { setRequestHandler: unknown } | undefined {
  const own = Object.getPrototypeOf(server) as object | null;
  for (let proto = own && Object.getPrototypeOf(own); proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, "setRequestHandler") && Object.hasOwn(proto, "_onrequest")) {
      return proto as { setRequestHandler: unknown };
    }
  }
  return undefined;
}

/**
 * The SDK's own dispatch of one request (`Protocol#_onrequest`), bound to `server`: for a request
 * the caller already checked with `isJSONRPCRequest`. The transport's message handler would run
 * the SDK's message guards one after another (response? error? request?), each miss a schema
 * failure, before reaching the same dispatch.
 *
 * Fallback: undefined when the SDK has no such method; the caller then hands the request to the
 * transport's `onmessage`, as any other message.
 */
export function requestDispatch(server: Server): ((request: JSONRPCRequest) => void) | undefined {
  const dispatch = (server as unknown as { _onrequest?: unknown })._onrequest;
  if (typeof dispatch !== "function") return undefined;
  return (request) => {
    dispatch.call(server, request);
  };
}

/**
 * The SDK's own dispatch of one notification (`Protocol#_onnotification`), bound to `server`: for a
 * notification the caller already checked with `isJSONRPCNotification`. As with requests, the
 * transport's message handler would first try it as a response, an error and a request, each miss
 * a schema failure: for `notifications/initialized` that cost more than answering `initialize`.
 *
 * Fallback: undefined when the SDK has no such method; the caller then hands the notification to
 * the transport's `onmessage`, as any other message.
 */
export function notificationDispatch(
  server: Server,
): ((notification: JSONRPCNotification) => void) | undefined {
  const dispatch = (server as unknown as { _onnotification?: unknown })._onnotification;
  if (typeof dispatch !== "function") return undefined;
  return (notification) => {
    dispatch.call(server, notification);
  };
}

/** How the SDK's stdio transport reads its child's stdout: `append` each chunk, `readMessage` until null. */
export interface StdioReadBuffer {
  append(chunk: Uint8Array): void;
  readMessage(): JSONRPCMessage | null;
  clear(): void;
}

/**
 * Makes `transport` read its child's stdout through `buffer` instead of the SDK's own
 * (`StdioClientTransport#_readBuffer`). Call it from the constructor, before `start()`.
 *
 * Fallback: returns false and changes nothing when the SDK keeps no reader there; the transport
 * reads through the SDK's buffer, bounded by the public `maxBufferSize`.
 */
export function replaceReadBuffer(transport: StdioClientTransport, buffer: StdioReadBuffer): boolean {
  const holder = transport as unknown as { _readBuffer?: Partial<StdioReadBuffer> };
  const current = holder._readBuffer;
  if (
    typeof current?.append !== "function" ||
    typeof current.readMessage !== "function" ||
    typeof current.clear !== "function"
  ) {
    return false;
  }
  holder._readBuffer = buffer;
  return true;
}

/**
 * The child process a started stdio transport runs (`StdioClientTransport#_process`), only when it
 * is the process the public `pid` names. Undefined before `start()`, after the process closed, and
 * when the SDK keeps it elsewhere.
 *
 * Fallback for callers: write through the transport's `send` (it settles without saying whether
 * the bytes reached the pipe), end the process by `pid`, and do without its exit code.
 */
export function childProcessOf(transport: StdioClientTransport): ChildProcess | undefined {
  const child = (transport as unknown as { _process?: Partial<ChildProcess> })._process;
  if (typeof child !== "object" || child === null || typeof child.once !== "function") return undefined;
  if ((child.pid ?? null) !== transport.pid || transport.pid === null) return undefined;
  return child as ChildProcess;
}
