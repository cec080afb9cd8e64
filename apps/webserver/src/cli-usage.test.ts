import { describe, expect, it } from "vitest";
import { pageCount, pageNumber, pageSize, stateList, usageMessages } from "./cli-usage.js";

describe("status's usage", () => {
  const en = usageMessages("en");

  it("says everything in Chinese that it says in English", () => {
    const zh = usageMessages("zh-CN");
    expect(Object.keys(zh)).toEqual(Object.keys(en));
    expect(zh.pastEnd(99, 3, 1, false)).toBe("第 99 页超出了末页：共 3 个接入点，1 页");
    expect(zh.badPerPage("0", 1000)).toMatch(/^每页条数必须是 1 到 1000 之间的整数/);
    expect(zh.badState("x", "a, b")).toMatch(/^状态必须是 a, b 之一/);
    expect(zh.badPage("0")).toMatch(/^页码必须是从 1 起的整数/);
  });

  it("takes pages from 1 and page sizes from 1 to 1000, as digits", () => {
    expect(pageNumber(en)("7")).toBe(7);
    expect(pageSize(en)(" 1000 ")).toBe(1000);
    for (const bad of ["0", "-1", "1.5", "1e3", "0x10", "", "abc"]) {
      expect(() => pageNumber(en)(bad)).toThrow(`page must be a whole number from 1, got "${bad}"`);
    }
    for (const bad of ["0", "1001", "2.0", ""]) {
      expect(() => pageSize(en)(bad)).toThrow(`per page must be a whole number from 1 to 1000, got "${bad}"`);
    }
  });

  it("takes the states an endpoint can be in, comma-separated, and names the others", () => {
    expect(stateList(en)("connected, failed,")).toBe("connected,failed");
    expect(() => stateList(en)("connected,bogus")).toThrow(
      'state must be one of connecting, connected, reconnecting, disconnected, failed, stopped (or several, comma-separated), got "bogus"',
    );
    expect(() => stateList(en)(",")).toThrow(/got ","/);
  });

  it("counts pages, one at least, and words the end in the right number", () => {
    expect([pageCount(0, 50), pageCount(3, 50), pageCount(100, 50), pageCount(101, 50)]).toEqual([
      1, 1, 2, 3,
    ]);
    expect(en.pastEnd(99, 3, 1, false)).toBe("page 99 is past the end: 3 endpoints, 1 page");
    expect(en.pastEnd(5, 1, 1, true)).toBe("page 5 is past the end: 1 matching endpoint, 1 page");
  });
});
