import { describe, expect, it } from "vitest";
import { classifyClose, classifyUpgradeStatus } from "./close-codes.js";
import { normalizeFrame } from "./websocket-transport.js";

describe("normalizeFrame", () => {
  it("drops a null params and leaves everything else to the SDK", () => {
    expect(normalizeFrame({ id: 2, jsonrpc: "2.0", method: "tools/list", params: null })).toEqual({
      id: 2,
      jsonrpc: "2.0",
      method: "tools/list",
    });
    const frame = { id: 0, jsonrpc: "2.0", method: "initialize", params: { a: 1 } };
    expect(normalizeFrame(frame)).toBe(frame);
    expect(normalizeFrame("text")).toBe("text");
    expect(normalizeFrame(null)).toBe(null);
  });
});

describe("close classification", () => {
  it("retries everything but auth and policy closes", () => {
    for (const code of [1000, 1001, 1006, 1011, 4004]) expect(classifyClose(code, "").retryable).toBe(true);
    for (const code of [1008, 4001, 4003, 4401, 4403]) expect(classifyClose(code, "").retryable).toBe(false);
  });

  it("stops on 401/403 at upgrade and retries other statuses", () => {
    expect(classifyUpgradeStatus(401)).toMatchObject({
      code: "AUTH_REJECTED",
      retryable: false,
      status: 401,
    });
    expect(classifyUpgradeStatus(403)).toMatchObject({ code: "AUTH_REJECTED", retryable: false });
    expect(classifyUpgradeStatus(502)).toMatchObject({
      code: "CONNECT_FAILED",
      retryable: true,
      status: 502,
      retryAfterMs: undefined,
    });
  });

  it("reads Retry-After as seconds or as a date, and ignores what is neither", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(classifyUpgradeStatus(503, "7", now).retryAfterMs).toBe(7000);
    expect(classifyUpgradeStatus(429, "Thu, 01 Jan 2026 00:00:30 GMT", now).retryAfterMs).toBe(30_000);
    expect(classifyUpgradeStatus(503, "Wed, 31 Dec 2025 00:00:00 GMT", now).retryAfterMs).toBe(0);
    expect(classifyUpgradeStatus(503, "soon", now).retryAfterMs).toBeUndefined();
    expect(classifyUpgradeStatus(503, "-5", now).retryAfterMs).toBeUndefined();
  });
});
