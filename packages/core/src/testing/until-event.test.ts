import { describe, expect, it } from "vitest";
import { Emitter } from "../emitter.js";
import { untilEvent } from "./until-event.js";

describe("untilEvent", () => {
  it("resolves on the event that makes the predicate hold, and unsubscribes", async () => {
    const events = new Emitter<{ changed: number; other: string }>();
    let value = 0;
    events.on("changed", (next) => {
      value = next;
    });
    const waiting = untilEvent(
      [(wake) => events.on("changed", wake), (wake) => events.on("other", wake)],
      () => value === 2,
      1000,
      "value 2",
    );
    events.emit("changed", 1);
    expect(events.listenerCount()).toBe(3);
    events.emit("changed", 2);
    await waiting;
    expect(events.listenerCount()).toBe(1);
  });

  it("resolves at once when the predicate already holds, and when a subscription wakes it at once", async () => {
    await untilEvent(
      () => () => {},
      () => true,
    );
    let unsubscribed = 0;
    let ready = false;
    const waiting = untilEvent(
      (wake) => {
        ready = true;
        wake();
        return () => unsubscribed++;
      },
      () => ready,
    );
    await waiting;
    expect(unsubscribed).toBe(1);
  });

  it("rejects after the timeout, naming what it waited for", async () => {
    const events = new Emitter<{ changed: number }>();
    await expect(
      untilEvent(
        (wake) => events.on("changed", wake),
        () => false,
        20,
        "nothing",
      ),
    ).rejects.toThrow("nothing not met within 20 ms");
    expect(events.listenerCount()).toBe(0);
  });
});
