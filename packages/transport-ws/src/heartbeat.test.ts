import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HeartbeatWheel } from "./heartbeat.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function target() {
  const log: string[] = [];
  return {
    log,
    ping: () => log.push(`ping@${Date.now() % 100_000}`),
    expired: () => log.push(`expired@${Date.now() % 100_000}`),
  };
}

describe("HeartbeatWheel", () => {
  it("uses one timer for many sockets and none when idle", () => {
    const wheel = new HeartbeatWheel({ interval: 1000, timeout: 500 });
    expect(vi.getTimerCount()).toBe(0);
    const handles = Array.from({ length: 100 }, () => wheel.register(target()));
    expect(vi.getTimerCount()).toBe(1);
    for (const handle of handles) handle.unregister();
    expect(vi.getTimerCount()).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it("pings within the interval and expires a silent link within interval + timeout", () => {
    vi.setSystemTime(0);
    const wheel = new HeartbeatWheel({ interval: 1000, timeout: 500 });
    const t = target();
    wheel.register(t);
    vi.advanceTimersByTime(1000);
    expect(t.log).toHaveLength(1);
    expect(t.log[0]).toMatch(/^ping@/);
    vi.advanceTimersByTime(500);
    expect(t.log).toHaveLength(2);
    expect(t.log[1]).toMatch(/^expired@/);
    const expiredAt = Number(t.log[1]?.split("@")[1]);
    expect(expiredAt).toBeLessThanOrEqual(1500);
    expect(expiredAt).toBeGreaterThanOrEqual(1500 - 50 * 2);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps a link that answers alive and pings it every interval", () => {
    vi.setSystemTime(0);
    const wheel = new HeartbeatWheel({ interval: 1000, timeout: 500 });
    const t = target();
    const handle = wheel.register({
      ping: () => {
        t.ping();
        setTimeout(() => handle.alive(), 10);
      },
      expired: t.expired,
    });
    vi.advanceTimersByTime(10_000);
    expect(t.log.filter((l) => l.startsWith("ping"))).toHaveLength(10);
    expect(t.log.some((l) => l.startsWith("expired"))).toBe(false);
    handle.unregister();
  });

  it("applies new timings to registered sockets", () => {
    vi.setSystemTime(0);
    const wheel = new HeartbeatWheel({ interval: 10_000, timeout: 10_000 });
    const t = target();
    const handle = wheel.register(t);
    wheel.configure({ interval: 100, timeout: 100 });
    expect(wheel.options).toEqual({ interval: 100, timeout: 100 });
    vi.advanceTimersByTime(200);
    expect(t.log.map((l) => l.split("@")[0])).toEqual(["ping", "expired"]);
    handle.unregister();
    expect(vi.getTimerCount()).toBe(0);
  });
});
