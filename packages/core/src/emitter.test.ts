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

  it("delivers to observers by method name, counts them, and unsubscribes each once", () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<{ a: number; b: string; c: boolean }>((e) => errors.push(e));
    const seen: string[] = [];
    const first = {
      a(n: number) {
        seen.push(`first a ${n} ${this === first}`);
      },
      b() {
        throw new Error("boom");
      },
    };
    const second = { b: (text: string) => seen.push(`second b ${text}`) };
    const offFirst = emitter.observe(first);
    const offSecond = emitter.observe(second);
    emitter.on("a", (n) => seen.push(`listener a ${n}`));
    expect(emitter.listenerCount()).toBe(3);
    expect(emitter.listenerCount("b")).toBe(2);
    expect(emitter.listenerCount("c")).toBe(0);
    emitter.emit("a", 1);
    emitter.emit("b", "x");
    emitter.emit("c", true);
    expect(seen).toEqual(["listener a 1", "first a 1 true", "second b x"]);
    expect(errors).toHaveLength(1);
    offFirst();
    offFirst();
    emitter.emit("b", "y");
    expect(seen.at(-1)).toBe("second b y");
    expect(emitter.listenerCount()).toBe(2);
    offSecond();
    expect(emitter.listenerCount()).toBe(1);
  });

  it("lets a listener unsubscribe while an event is delivered without skipping the others", () => {
    const emitter = new Emitter<{ a: number }>();
    const seen: string[] = [];
    const offFirst = emitter.on("a", () => {
      seen.push("first");
      offFirst();
    });
    emitter.on("a", () => seen.push("second"));
    emitter.emit("a", 1);
    emitter.emit("a", 2);
    expect(seen).toEqual(["first", "second", "second"]);
  });
});
