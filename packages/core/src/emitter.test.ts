import { describe, expect, it } from "vitest";
import { Emitter } from "./emitter.js";

describe("Emitter", () => {
  it("delivers to every listener even when one throws, and counts listeners", () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<{ a: number; b: string }>((e) => errors.push(e));
    const seen: number[] = [];
    const offA = emitter.on("a", () => {
      throw new Error("boom");
    });
    const offB = emitter.on("a", (n) => seen.push(n));
    emitter.on("b", () => {});
    expect(emitter.listenerCount("a")).toBe(2);
    expect(emitter.listenerCount()).toBe(3);
    emitter.emit("a", 7);
    expect(seen).toEqual([7]);
    expect(errors).toHaveLength(1);
    offA();
    offB();
    offB();
    expect(emitter.listenerCount("a")).toBe(0);
    emitter.removeAllListeners();
    expect(emitter.listenerCount()).toBe(0);
  });

  it("treats one function subscribed twice as two subscriptions", () => {
    const emitter = new Emitter<{ a: number }>();
    let calls = 0;
    const listener = () => calls++;
    const off1 = emitter.on("a", listener);
    emitter.on("a", listener);
    off1();
    emitter.emit("a", 1);
    expect(calls).toBe(1);
  });
});
