import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { AdapterEventMap } from "../adapter/event-feed.js";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import { EventBatch } from "./event-batch.js";

/** Endpoints per `endpoints` event, after a snapshot cut short by `?first=N`. */
export const endpointsPerEvent = 1000;

/**
 * `?first=N` of `GET /api/events`: the snapshot holds the first N endpoints, the rest follow.
 * Undefined when absent (the snapshot holds every endpoint); an error when it is no whole number.
 */
export function parseFirst(text: string | undefined): number | undefined | { readonly error: string } {
  if (text === undefined) return undefined;
  return /^\d{1,9}$/.test(text) ? Number(text) : { error: "first must be a whole number" };
}

/**
 * Mounts `GET /api/events`: a `snapshot`, then one event per change, in batches. With `?first=N`
 * the snapshot holds only the first N endpoints (in list order) and says how many follow (`more`);
 * they follow as `endpoints` events of up to {@link endpointsPerEvent}, `{endpoints, more}`, before
 * any change. A page shows its first rows at once instead of waiting for megabytes at ten
 * thousand endpoints, and the server answers other requests between the pieces. `streams` gets
 * each open stream's end, for the routes' `close()`.
 */
export function mountEventStream(
  app: Hono,
  adapter: XiaozhiConnectionAdapter,
  version: string,
  streams: Set<() => void>,
  refuse: (c: Context, message: string) => Response,
  /** Calls `end` when the sign-in the request was made with ends; returns how to stop watching. */
  whenSignedOut: (c: Context, end: () => void) => () => void = () => () => {},
): void {
  app.get("/api/events", (c) => {
    const first = parseFirst(c.req.query("first"));
    if (typeof first === "object") return refuse(c, first.error);
    return streamSSE(c, async (stream) => {
      let over = false;
      let ended: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        ended = () => {
          over = true;
          resolve();
        };
      });
      const batch = new EventBatch((text) => stream.write(text), ended);
      const send = <K extends keyof AdapterEventMap>(event: K, data: unknown) =>
        batch.send(event, JSON.stringify(data));
      const subscriptions = [
        adapter.on("endpoint", (status) => send("endpoint", status)),
        adapter.on("removed", (payload) => send("removed", payload)),
        adapter.on("tools", (payload) => send("tools", payload)),
        adapter.on("config", (payload) => send("config", payload)),
        adapter.on("services", (payload) => send("services", payload)),
        adapter.on("sample", (payload) => send("sample", payload)),
        adapter.on("call", (payload) => send("call", payload)),
        adapter.on("cluster", (payload) => send("cluster", payload)),
        adapter.on("closed", () => ended()),
        // A stream opened with a session ends with it: signing out stops what the page still reads.
        whenSignedOut(c, () => ended()),
      ];
      streams.add(ended);
      stream.onAbort(ended);
      try {
        // One cut of every endpoint: what changes after it queues in the batch and follows the rest.
        const endpoints = adapter.endpoints();
        const shown = first === undefined ? endpoints : endpoints.slice(0, first);
        const snapshot = JSON.stringify({
          status: adapter.status(version, endpoints),
          endpoints: shown,
          ...(first === undefined ? {} : { more: endpoints.length - shown.length }),
          tools: await adapter.listTools(),
          services: adapter.services(),
          calls: adapter.history.calls(),
          toolStats: adapter.history.toolStats(),
        });
        // Framed as the batch frames events: JSON has no line breaks to split into data lines, and
        // at ten thousand endpoints the snapshot is megabytes.
        await stream.write(`event: snapshot\ndata: ${snapshot}\n\n`);
        for (let at = shown.length; at < endpoints.length && !over; at += endpointsPerEvent) {
          // A turn for other requests (the page's own, among them) between the pieces.
          await new Promise((resolve) => setImmediate(resolve));
          const piece = endpoints.slice(at, at + endpointsPerEvent);
          const more = endpoints.length - at - piece.length;
          await stream.write(`event: endpoints\ndata: ${JSON.stringify({ endpoints: piece, more })}\n\n`);
        }
        batch.open();
        await done;
      } finally {
        // What gathered last (an adapter closing sends its endpoints' final states) still goes.
        batch.flush();
        batch.close();
        streams.delete(ended);
        for (const unsubscribe of subscriptions) unsubscribe();
      }
    });
  });
}
