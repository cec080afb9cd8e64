import { describe, expect, it } from "vitest";
import { localeOf, parseLocale } from "./locale.js";
import { en, type Messages, messagesFor } from "./messages.js";
import { zhCN } from "./messages-zh-cn.js";

/** Words that are the same in both languages: names, flags, paths. */
const untranslated = new Set([
  "tables.id",
  "sources.--config",
  "sources.$XIAOZHI_CONFIG",
  "sources.$XIAOZHI_CONFIG_DIR",
  "prefixCodes",
  "commanderErrors",
  "plainErrors",
  // The server's texts as they are until the command loads the dashboard's words (reasons.test.ts).
  "explain",
]);

/** Every message as text: a function is called with sample arguments. */
function said(value: unknown, key: string): string {
  if (typeof value !== "function") return JSON.stringify(value);
  const sample = key.endsWith("ready")
    ? [{ url: "http://x/", connected: 1, total: 2, why: "", tools: 3, starting: 1, config: null }]
    : key.endsWith("demoBanner") || key.endsWith("clients.which") || key.endsWith("restartNeeded")
      ? [["/a", "/b"]]
      : key.endsWith("severalNamed")
        ? ["sample", ["ep-1", "ep-2"]]
        : ["sample", 2, "sample"];
  return JSON.stringify((value as (...args: unknown[]) => unknown)(...sample));
}

function leaves(messages: unknown, prefix = ""): [string, unknown][] {
  if (typeof messages !== "object" || messages === null || Array.isArray(messages))
    return [[prefix, messages]];
  return Object.entries(messages).flatMap(([key, value]) => leaves(value, prefix ? `${prefix}.${key}` : key));
}

describe("the command line's messages", () => {
  it("says everything in Chinese that it says in English", () => {
    const english = new Map(leaves(en));
    const chinese = new Map(leaves(zhCN));
    expect([...chinese.keys()]).toEqual([...english.keys()]);
    for (const [key, value] of english) {
      if (untranslated.has(key)) continue;
      const zh = said(chinese.get(key), key);
      expect({ key, zh }).not.toEqual({ key, zh: said(value, key) });
      expect({ key, chinese: /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/.test(zh) }).toEqual({
        key,
        chinese: true,
      });
    }
  });

  it("translates commander's own errors and keeps English as commander says it", () => {
    const say = (text: string) => {
      for (const [pattern, words] of zhCN.commanderErrors) {
        const match = pattern.exec(text);
        if (match) return text.replace(pattern, words(...match.slice(1)));
      }
      return text;
    };
    expect(say("error: missing required argument 'url'\n")).toBe("错误：缺少必需的参数 'url'\n");
    expect(say("error: option '--port <port>' argument missing\n")).toBe(
      "错误：选项 '--port <port>' 缺少参数值\n",
    );
    expect(say("error: option '--port <port>' argument 'x' is invalid. port must be…")).toBe(
      "错误：选项 '--port <port>' 的参数 'x' 无效。port must be…",
    );
    expect(say("error: command-argument value 'x' is invalid for argument 'n'. why")).toBe(
      "错误：参数 'n' 的值 'x' 无效。why",
    );
    expect(say("error: too many arguments. Expected 0 arguments but got 1.")).toBe(
      "错误：参数过多：需要 0 个，收到 1 个。",
    );
    expect(say("(Did you mean status?)")).toBe("（你是不是要用 status？）");
    expect(zhCN.plainErrors[0]?.[1]("/x.json")).toBe("找不到配置文件：/x.json");
    expect(en.commanderErrors).toEqual([]);
  });

  it("picks the language from --lang, then LC_ALL, LC_MESSAGES and LANG", () => {
    expect(localeOf([], { LANG: "zh_CN.UTF-8" })).toBe("zh-CN");
    expect(localeOf([], { LANG: "zh_TW.UTF-8" })).toBe("zh-CN");
    expect(localeOf([], { LANG: "en_US.UTF-8" })).toBe("en");
    expect(localeOf([], { LANG: "C" })).toBe("en");
    expect(localeOf([], {})).toBe("en");
    expect(localeOf([], { LC_ALL: "en_US.UTF-8", LANG: "zh_CN.UTF-8" })).toBe("en");
    expect(localeOf([], { LC_MESSAGES: "zh_CN.UTF-8", LANG: "en_US" })).toBe("zh-CN");
    expect(localeOf(["status", "--lang", "zh"], { LANG: "en_US" })).toBe("zh-CN");
    expect(localeOf(["--lang=en"], { LANG: "zh_CN.UTF-8" })).toBe("en");
    expect(localeOf(["--lang", "fr"], { LANG: "zh_CN.UTF-8" })).toBe("zh-CN");
    expect(localeOf(["--", "--lang", "en"], { LANG: "zh_CN.UTF-8" })).toBe("zh-CN");
    expect(parseLocale("ZH_cn")).toBe("zh-CN");
    expect(parseLocale("klingon")).toBeUndefined();
    expect(messagesFor("zh-CN")).toBe(zhCN);
    expect(messagesFor("en") satisfies Messages).toBe(en);
  });

  it("says one tool, not one tools, in the ready line", () => {
    const ready = (tools: number) =>
      en.server.ready({
        url: "http://x/",
        connected: 1,
        total: 1,
        why: "",
        tools,
        starting: 0,
        config: null,
      });
    expect(ready(1)).toContain("· 1 tool · config");
    expect(ready(0)).toContain("· 0 tools · config");
    expect(ready(2)).toContain("· 2 tools · config");
  });
});
