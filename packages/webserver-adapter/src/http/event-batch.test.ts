import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventBatch, eventBatchChars, eventBatchMs } from "./event-batch.js";

describe("server-sent events a batch at a time", () => {
  let writes: string[];
  let failed: number;
  const batch = (write?: (text: string) => Promise<unknown>) =>
    new EventBatch(
      write ??
        (async (text) => {
          writes.push(text);
        }),
      () => {
        failed++;
      },
    );

  beforeEach(() => {
    vi.useFakeTimers();
    writes = [];
    failed = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds what comes before the snapshot, and sends it right after, in order", () => {
    const events = batch();
    events.send("endpoint", '{"id":"a"}');
    events.send("removed", '{"id":"b"}');
    vi.advanceTimersByTime(eventBatchMs * 5);
    expect(writes).toEqual([]);
    events.open();
    expect(writes).toEqual(['event: endpoint\ndata: {"id":"a"}\n\nevent: removed\ndata: {"id":"b"}\n\n']);
    events.close();
  });

  it("sends the events of one window in one write", () => {
    const events = batch();
    events.open();
    for (let i = 0; i < 50; i++) events.send("endpoint", `{"i":${i}}`);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(eventBatchMs);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.match(/event: endpoint\n/g)).toHaveLength(50);
    events.send("tools", "{}");
    vi.advanceTimersByTime(eventBatchMs);
    expect(writes).toEqual([writes[0], "event: tools\ndata: {}\n\n"]);
    expect(vi.getTimerCount()).toBe(0);
    events.close();
  });

  it("sends a large batch at once, so a burst reaches the page in pieces it can take", () => {
    const events = batch();
    events.open();
    const data = JSON.stringify({ pad: "x".repeat(1000) });
    const fit = Math.ceil(eventBatchChars / (data.length + 24));
    for (let i = 0; i < fit * 3; i++) events.send("endpoint", data);
    expect(writes.length).toBeGreaterThanOrEqual(2);
    for (const text of writes) expect(text.length).toBeLessThan(eventBatchChars + data.length + 24);
    vi.advanceTimersByTime(eventBatchMs);
    expect(writes.join("").match(/event: endpoint\n/g)).toHaveLength(fit * 3);
    events.close();
  });

  it("drops what is queued when closed, leaves no timer, and sends nothing after", () => {
    const events = batch();
    events.open();
    events.send("endpoint", "{}");
    expect(vi.getTimerCount()).toBe(1);
    events.close();
    expect(vi.getTimerCount()).toBe(0);
    events.send("endpoint", "{}");
    events.flush();
    vi.advanceTimersByTime(eventBatchMs);
    expect(writes).toEqual([]);
  });

  // Hono's stream swallows its write errors (a client that left is seen by its abort), so this is
  // for a writer that does reject.
  it("tells when a write is rejected", async () => {
    const events = batch(() => Promise.reject(new Error("gone")));
    events.open();
    events.send("endpoint", "{}");
    await vi.advanceTimersByTimeAsync(eventBatchMs);
    expect(failed).toBe(1);
    events.close();
  });
});
