import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseConfigText } from "@xiaozhi-connect/webserver-adapter";
import { afterEach, describe, expect, it } from "vitest";

// Reasons a Chinese user met in English or said twice: a client name the server refuses, an
// endpoint that is already there, a refused sign-in in the changes. Checked in Node, as the page's
// modules have no DOM in them.
type Segment = string | { data: string; title?: string };
interface I18n {
  setLanguage(tag: string): void;
  plain(segments: Segment[]): string;
}
interface Reasons {
  explain(text: string): Segment[];
  known(text: string): boolean;
  apiError(code: string, message: string): Segment[];
  nameEndpoints(lookup: (id: string) => string | undefined): void;
}

const assets = join(import.meta.dirname, "../public/assets");
const i18n = (await import(pathToFileURL(join(assets, "i18n.js")).href)) as I18n;
const reasons = (await import(pathToFileURL(join(assets, "reasons.js")).href)) as Reasons;

/** `text` as the page says it in `tag`. */
function said(tag: string, segments: () => Segment[]): string {
  i18n.setLanguage(tag);
  return i18n.plain(segments());
}

afterEach(() => {
  i18n.setLanguage("en");
  reasons.nameEndpoints(() => undefined);
});

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("it did not throw");
}

describe("reasons the dashboard explains", () => {
  it("says which characters a client name takes, in Chinese, from the form and from the file", () => {
    // As the API refuses a client added from the form (client-admin.ts words it so).
    const fromForm = "client name must be 1-64 letters, digits, dots, dashes or underscores";
    const fromFile = messageOf(() =>
      parseConfigText(JSON.stringify({ clients: [{ name: "手机测试", token: "t".repeat(24) }] })),
    );
    expect(reasons.known(fromForm)).toBe(true);
    expect(reasons.known(fromFile)).toBe(true);
    const zh = said("zh-CN", () => reasons.apiError("INVALID_CONFIG", fromForm));
    expect(zh).toBe("配置无效：客户端名称须为 1 到 64 个英文字母、数字、.、- 或 _，不能含中文或空格");
    expect(said("zh-CN", () => reasons.explain(fromFile))).toMatch(/须为 1 到 64 个英文字母/);
    expect(said("en", () => reasons.apiError("INVALID_CONFIG", fromForm))).toBe(
      "Invalid config: the client name must be 1 to 64 Latin letters, digits, ., - or _, with no spaces",
    );
  });

  it("says once that an endpoint is already there, by its agent's name when the page knows it", () => {
    const message = "endpoint ep-7cd3e24804b3 already exists";
    const error = () => reasons.apiError("DUPLICATE_ENDPOINT", message);
    expect(said("zh-CN", error)).toBe("接入点 ep-7cd3e24804b3 已在列表中");
    expect(said("en", error)).toBe("endpoint ep-7cd3e24804b3 is already in the list");
    reasons.nameEndpoints((id) => (id === "ep-7cd3e24804b3" ? "客厅" : undefined));
    expect(said("zh-CN", error)).toBe("客厅 已在使用该接入点");
    expect(said("en", error)).toBe("客厅 already uses this endpoint");
    // The id stays at hand, as the name's title.
    expect(error()).toContainEqual({ data: "客厅", title: "ep-7cd3e24804b3" });
    // A name learnt later is used: what named it was not remembered.
    reasons.nameEndpoints((id) => (id === "ep-7cd3e24804b3" ? "书房" : undefined));
    expect(said("zh-CN", error)).toBe("书房 已在使用该接入点");
  });

  it("explains a refused sign-in in the changes, which keep only its status", () => {
    expect(said("zh-CN", () => reasons.explain("HTTP 401"))).toBe("密码或令牌不正确");
    expect(said("en", () => reasons.explain("HTTP 401"))).toBe("wrong password or token");
    expect(said("zh-CN", () => reasons.explain("HTTP 429"))).toBe("错误次数过多");
  });

  it("says an unknown strategy in Chinese with the field it is in and when a new one applies", () => {
    const registered = '"round-robin", "least-inflight"';
    const plain = `unknown strategy "weighted" (registered: ${registered})`;
    const inField = `connection.loadBalanceStrategy: ${plain}`;
    const atRestart = `mcpServers.echo.strategy: ${plain}; changes to the strategies block apply at the next restart`;
    for (const text of [plain, inField, atRestart]) expect(reasons.known(text), text).toBe(true);
    expect(said("zh-CN", () => reasons.explain(inField))).toBe(
      `connection.loadBalanceStrategy：未知的策略 weighted（已注册：${registered}）`,
    );
    expect(said("zh-CN", () => reasons.explain(atRestart))).toBe(
      `mcpServers.echo.strategy：未知的策略 weighted（已注册：${registered}）；strategies 块的修改在下次重启后生效`,
    );
    expect(said("en", () => reasons.explain(atRestart))).toBe(atRestart.replace('"weighted"', "weighted"));
  });
});
