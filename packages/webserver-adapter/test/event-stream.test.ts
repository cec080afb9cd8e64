import { get, type IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { endpointsPerEvent } from "../src/http/event-stream.js";
import { finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const config = { mcpEndpoint: ["cloud:a", "cloud:b", "cloud:c"] };

interface Received {
  /** Every event so far, in order. */
  readonly events: { event: string; data: unknown }[];
  /** Reads until `done` holds of the events, in at most 5 s. */
  until(done: (events: Received["events"]) => boolean): Promise<void>;
  close(): void;
}

/** Opens `GET /api/events` with `query` and reads its events as they come. */
async function openEvents(s: Stack, query = ""): Promise<Received> {
  // node:http, so that closing destroys the socket (a fetch would keep it for the next request).
  const response = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${s.base}/api/events${query}`, resolve).once("error", reject),
  );
  expect(response.statusCode).toBe(200);
  response.setEncoding("utf8");
  const events: Received["events"] = [];
  let text = "";
  let changed = () => {};
  response.on("data", (chunk: string) => {
    text += chunk;
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const [head, body] = text.slice(0, end).split("\n");
      events.push({ event: (head ?? "").slice("event: ".length), data: JSON.parse((body ?? "").slice(6)) });
      text = text.slice(end + 2);
    }
    changed();
  });
  return {
    events,
    async until(done) {
      if (done(events)) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          changed = () => {};
          reject(new Error(`not there: ${JSON.stringify(events).slice(0, 500)}`));
        }, 5000);
        changed = () => {
          if (!done(events)) return;
          clearTimeout(timer);
          changed = () => {};
          resolve();
        };
      });
    },
    close: () => response.destroy(),
  };
}

type Status = { id: string; state: string };

describe("the event stream's snapshot", () => {
  it("holds the first N endpoints with ?first=N, the rest following in list order before any change", async () => {
    stack = await Stack.start(config);
    const s = stack;
    await s.until(() => s.adapter.endpoints().every((e) => e.connected), 5000, "all connected");
    const ids = ["a", "b", "c"].map((name) => s.idOf(name));
    expect(s.adapter.endpoints().map((e) => e.id)).toEqual(ids);

    const stream = await openEvents(s, "?first=1");
    await stream.until((events) =>
      events.some((e) => e.event === "endpoints" && (e.data as { more: number }).more === 0),
    );
    const [snapshot, ...rest] = stream.events;
    expect(snapshot?.event).toBe("snapshot");
    const first = snapshot?.data as { endpoints: Status[]; more: number; status: { endpoints: unknown } };
    expect(first.endpoints.map((e) => e.id)).toEqual([ids[0]]);
    expect(first.more).toBe(2);
    // The counts are of all, not of the endpoints it holds.
    expect(first.status.endpoints).toEqual({ total: 3, connected: 3 });
    const pieces = rest.filter((e) => e.event === "endpoints").map((e) => e.data as { endpoints: Status[] });
    expect(pieces.flatMap((piece) => piece.endpoints.map((e) => e.id))).toEqual(ids.slice(1));

    // A change comes after the list, as one event per change.
    s.cloud.close(token("b"), 4004);
    await stream.until((events) =>
      events.some((e) => e.event === "endpoint" && (e.data as Status).id === ids[1]),
    );
    const order = stream.events.map((e) => e.event);
    expect(order.lastIndexOf("endpoints")).toBeLessThan(order.indexOf("endpoint"));
    stream.close();
  });

  it("sends a long list in pieces of 1,000, in list order, with every change after the last piece", async () => {
    // 2,500 endpoints, all but one refused: their states change all the while the pieces go out.
    const refused = Array.from({ length: 2499 }, (_, i) => `ws://127.0.0.1:1/mcp/?token=refused-${i}`);
    stack = await Stack.start({ mcpEndpoint: ["cloud:a", ...refused] });
    const s = stack;
    const ids = s.adapter.endpoints().map((e) => e.id);
    expect(ids).toHaveLength(2500);
    const stream = await openEvents(s, "?first=1");
    await stream.until((events) => events.some((e) => e.event === "endpoint"));
    const first = stream.events[0]?.data as { endpoints: Status[]; more: number };
    expect(first.endpoints.map((e) => e.id)).toEqual([ids[0]]);
    expect(first.more).toBe(endpointsPerEvent * 2 + 499);
    const order = stream.events.map((e) => e.event);
    const pieces = stream.events
      .filter((e) => e.event === "endpoints")
      .map((e) => e.data as { endpoints: Status[]; more: number });
    expect(pieces.map((piece) => [piece.endpoints.length, piece.more])).toEqual([
      [endpointsPerEvent, endpointsPerEvent + 499],
      [endpointsPerEvent, 499],
      [499, 0],
    ]);
    expect(pieces.flatMap((piece) => piece.endpoints.map((e) => e.id))).toEqual(ids.slice(1));
    expect(order.lastIndexOf("endpoints")).toBeLessThan(order.indexOf("endpoint"));
    stream.close();
  });

  it("holds every endpoint without ?first, and counts, as before; ?first=0 sends only the counts first", async () => {
    stack = await Stack.start(config);
    const s = stack;
    await s.until(() => s.adapter.endpoints().every((e) => e.connected), 5000, "all connected");
    const whole = await openEvents(s);
    await whole.until((events) => events.length > 0);
    const data = whole.events[0]?.data as Record<string, unknown> & { endpoints: Status[] };
    expect(data.endpoints).toHaveLength(3);
    expect(data).not.toHaveProperty("more");
    whole.close();

    const none = await openEvents(s, "?first=0");
    await none.until((events) => events.length >= 2);
    expect(none.events.map((e) => e.event).slice(0, 2)).toEqual(["snapshot", "endpoints"]);
    expect(none.events[0]?.data).toMatchObject({ endpoints: [], more: 3 });
    const rest = none.events[1]?.data as { endpoints: Status[]; more: number } | undefined;
    expect(rest?.endpoints).toHaveLength(3);
    expect(rest?.more).toBe(0);
    none.close();
  });

  it("refuses a ?first that is no whole number, with a clear error", async () => {
    stack = await Stack.start(config);
    for (const first of ["x", "-1", "1.5", ""]) {
      const { status, body } = await stack.api("GET", `/api/events?first=${first}`);
      expect(status).toBe(400);
      expect(body).toEqual({ error: { code: "BAD_REQUEST", message: "first must be a whole number" } });
    }
  });
});
