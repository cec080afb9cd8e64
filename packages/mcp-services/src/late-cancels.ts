import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";

/**
 * Keeps an SDK client's transport from sending `notifications/cancelled` for a request already
 * answered. The SDK cancels a request whenever the signal it was given aborts, even long after
 * the answer came (it never removes that listener), and a caller may abort a call's signal once
 * the call is over. Cancellations of requests still open, the SDK's own timeouts included, go
 * out as before. Returns the same transport.
 */
export function withoutLateCancels<T extends Transport>(transport: T): T {
  /** Ids of the requests sent and not answered yet. */
  const open = new Set<unknown>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if ("method" in message) {
      if ("id" in message) open.add(message.id);
      else if (message.method === "notifications/cancelled" && !open.delete(message.params?.requestId)) {
        return Promise.resolve();
      }
    }
    return send(message, options);
  };
  let handler: Transport["onmessage"];
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    enumerable: true,
    get: () => handler,
    set: (next: Transport["onmessage"]) => {
      handler =
        next &&
        ((message, extra) => {
          if (!("method" in message) && "id" in message) open.delete(message.id);
          next(message, extra);
        });
    },
  });
  return transport;
}
