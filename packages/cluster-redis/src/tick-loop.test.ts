import { describe, expect, it } from "vitest";
import { FakeClock, settle } from "../test/fake-clock.js";
import { TickLoop } from "./tick-loop.js";

describe("TickLoop", () => {
  it("keeps ticking after a job fails, and a tick asked for during a job is not lost", async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const loop = new TickLoop(clock.for("x"), 100, async () => {
      ticks++;
    });
    await loop.kick();
    let release: () => void = () => {};
    const job = loop.exclusive(
      () =>
        new Promise<void>((_, reject) => {
          release = () => reject(new Error("Redis: Command timed out"));
        }),
    );
    await clock.advance(150);
    const during = ticks;
    release();
    await expect(job).rejects.toThrow(/timed out/);
    await settle();
    expect(ticks).toBe(during + 1);
    await clock.advance(1000);
    expect(ticks).toBeGreaterThanOrEqual(during + 10);
    await loop.stop();
    expect(clock.pending("x")).toBe(0);
  });

  it("is not starved by a stream of jobs", async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const loop = new TickLoop(clock.for("x"), 100, async () => {
      ticks++;
    });
    await loop.kick();
    for (let i = 0; i < 50; i++) {
      await loop.exclusive(async () => {});
      await clock.advance(20);
    }
    expect(ticks).toBeGreaterThanOrEqual(9);
    await loop.stop();
  });

  it("joins a kick to the one already queued, and runs nothing after stop", async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const loop = new TickLoop(clock.for("x"), 100, async () => {
      ticks++;
    });
    await Promise.all([loop.kick(), loop.kick(), loop.kick()]);
    expect(ticks).toBeLessThanOrEqual(2);
    await loop.stop();
    const stopped = ticks;
    await loop.kick();
    await clock.advance(500);
    expect(ticks).toBe(stopped);
  });

  it("retries soon: a quarter of a second, or half a tick when ticks come faster", async () => {
    const clock = new FakeClock();
    for (const [every, after] of [
      [1000, 250],
      [400, 200],
    ] as const) {
      const at: number[] = [];
      const loop = new TickLoop(clock.for("x"), every, async () => {
        at.push(clock.now());
      });
      await loop.kick();
      const start = clock.now();
      loop.retrySoon();
      await clock.advance(after - 10);
      expect(at).toEqual([start]);
      await clock.advance(20);
      expect(at).toEqual([start, start + after]);
      await loop.stop();
    }
    expect(clock.pending("x")).toBe(0);
  });

  it("runs a tick at a moment asked for, keeps the earliest of several, and leaves no timer after stop", async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const loop = new TickLoop(clock.for("x"), 1000, async () => {
      at.push(clock.now());
    });
    await loop.kick();
    const start = clock.now();
    loop.kickIn(300);
    loop.kickIn(700);
    await clock.advance(250);
    expect(at).toEqual([start]);
    await clock.advance(100);
    expect(at).toEqual([start, start + 300]);
    // The regular tick counts again from there; a later moment asked for now is kept.
    loop.kickIn(400);
    await clock.advance(450);
    expect(at).toEqual([start, start + 300, start + 750]);
    loop.kickIn(200);
    await loop.stop();
    expect(clock.pending("x")).toBe(0);
    await clock.advance(500);
    expect(at).toHaveLength(3);
  });
});
