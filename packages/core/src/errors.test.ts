import { describe, expect, it } from "vitest";
import { describeError, neverReached, XiaozhiError } from "./errors.js";

describe("XiaozhiError", () => {
  it("is recognised across package copies through its Symbol.for marker", () => {
    const foreign = { [Symbol.for("xiaozhi-connect.error")]: true, code: "NOT_CONNECTED" };
    expect(XiaozhiError.isInstance(foreign)).toBe(true);
    expect(XiaozhiError.isInstance(new Error("x"))).toBe(false);
    expect(XiaozhiError.isInstance(null)).toBe(false);
  });

  it("derives retryability from the code unless told otherwise", () => {
    expect(new XiaozhiError("AUTH_REJECTED", "401").retryable).toBe(false);
    expect(new XiaozhiError("CONNECT_FAILED", "refused").retryable).toBe(true);
    expect(new XiaozhiError("CONNECT_FAILED", "1008", { retryable: false, status: 1008 })).toMatchObject({
      retryable: false,
      status: 1008,
      name: "XiaozhiError",
    });
  });

  it("marks a name missing or already taken as not retryable: only a config change fixes it", () => {
    const permanent = [
      "UNKNOWN_ENDPOINT",
      "DUPLICATE_ENDPOINT",
      "UNKNOWN_STRATEGY",
      "DUPLICATE_STRATEGY",
      "UNKNOWN_SERVICE",
      "DUPLICATE_SERVICE",
      "INVALID_CONFIG",
      "INVALID_ENDPOINT",
    ] as const;
    for (const code of permanent)
      expect([code, new XiaozhiError(code, "x").retryable]).toEqual([code, false]);
    for (const code of [
      "NOT_CONNECTED",
      "SEND_FAILED",
      "TIMEOUT",
      "CONNECT_TIMEOUT",
      "NOT_CONFIGURED",
    ] as const) {
      expect([code, new XiaozhiError(code, "x").retryable]).toEqual([code, true]);
    }
  });

  it("keeps the cause", () => {
    const cause = new Error("inner");
    expect(new XiaozhiError("SEND_FAILED", "outer", { cause }).cause).toBe(cause);
  });
});

describe("neverReached", () => {
  it("is true only for errors proving the operation never left", () => {
    expect(neverReached(new XiaozhiError("NOT_CONNECTED", ""))).toBe(true);
    expect(neverReached(new XiaozhiError("SEND_FAILED", ""))).toBe(true);
    expect(neverReached(new XiaozhiError("TIMEOUT", ""))).toBe(false);
    expect(neverReached(new Error("NOT_CONNECTED"))).toBe(false);
  });
});

describe("describeError", () => {
  it("describes errors and other thrown values", () => {
    expect(describeError(new TypeError("bad"))).toBe("bad");
    expect(describeError(new TypeError(""))).toBe("TypeError");
    expect(describeError(42)).toBe("42");
  });
});
