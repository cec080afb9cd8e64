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
