import { describe, expect, it } from "vitest";
import { explainerFor } from "./reasons.js";

describe("the server's texts in the command's language", () => {
  it("leaves English as the server wrote it", async () => {
    const explain = await explainerFor("en");
    expect(explain("connect ECONNREFUSED 127.0.0.1:1")).toBe("connect ECONNREFUSED 127.0.0.1:1");
  });

  it("words them in Chinese as the dashboard does, keeping the values, and leaves unknown texts alone", async () => {
    const explain = await explainerFor("zh-CN");
    expect(explain("connect ECONNREFUSED 127.0.0.1:1")).toBe("127.0.0.1:1 拒绝连接");
    expect(explain("not connected within 10000 ms")).toMatch(/^10 秒内/);
    expect(explain("gave up after 5 reconnect attempts: closed 1006")).toMatch(/5.*1006/);
    expect(explain("gave up after 5 reconnect attempts: closed 1006")).not.toMatch(/gave up|closed/);
    expect(explain("something no rule knows")).toBe("something no rule knows");
    // An error's code in words before its text, but not when the text says all the code does.
    expect(explain.labelled?.("DUPLICATE_ENDPOINT", "endpoint ep-abc already exists")).toBe(
      "接入点 ep-abc 已在列表中",
    );
    expect(
      explain.labelled?.(
        "INVALID_CONFIG",
        "client name must be 1-64 letters, digits, dots, dashes or underscores",
      ),
    ).toMatch(/^配置无效：客户端名称/);
    // The demo tools' descriptions as the dashboard gives them; a service's own as it wrote it.
    expect(explain.description?.("Does arithmetic on two numbers")).toBe("对两个数做加减乘除");
    expect(explain.description?.("Adds two numbers")).toBe("Adds two numbers");
    // One load for every command of the process.
    expect(await explainerFor("zh-CN")).toBe(explain);
  });
});
