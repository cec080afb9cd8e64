import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  McpService,
  McpServiceManager,
  unavailableReason,
  uncallableReason,
} from "@xiaozhi-connect/mcp-services";
import { classifyUpgradeStatus } from "@xiaozhi-connect/transport-ws";
import { endpointToAdd, parseConfigText, serviceToWrite } from "@xiaozhi-connect/webserver-adapter";
import { describe, expect, it } from "vitest";
import { createDemoTools } from "../src/demo-tool-server.js";
import { allowedWords } from "./page-checks.js";
import { demoTools } from "./run-server.js";

// The dashboard's dictionaries and the words it makes of the product's own error texts, checked in
// Node: the page's modules have no DOM in them.
type Segment = string | { data: string };
type Dictionary = { [key: string]: string | Dictionary };
interface I18n {
  dictionaries: Record<string, Dictionary>;
  setLanguage(tag: string): void;
  plain(segments: Segment[]): string;
  t(path: string, values?: Record<string, unknown>): string;
  pickLanguage(input: {
    query?: string;
    saved?: string;
    languages?: string[];
    timeZone?: string | (() => string);
  }): string;
}
interface Reasons {
  explain(text: string): Segment[];
  known(text: string): boolean;
}

const assets = join(import.meta.dirname, "../public/assets");
const i18n = (await import(pathToFileURL(join(assets, "i18n.js")).href)) as I18n;
const reasons = (await import(pathToFileURL(join(assets, "reasons.js")).href)) as Reasons;
const { en, "zh-CN": zh } = i18n.dictionaries as { en: Dictionary; "zh-CN": Dictionary };

/** Every entry as `path → text`. */
function entries(dictionary: Dictionary, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(dictionary)) {
    if (typeof value === "string") out.set(prefix + key, value);
    else for (const [k, v] of entries(value, `${prefix}${key}.`)) out.set(k, v);
  }
  return out;
}

const allowed = new Set(allowedWords.map((w) => w.toLowerCase()));

/** English words in text, as the browser test finds them: identifiers, ACRONYMS and URLs are codes. */
function englishWords(text: string): string[] {
  const words = text.replace(/[a-z][a-z0-9+.-]*:\/\/\S*/gi, " ").match(/[A-Za-z0-9_./@-]+/g) ?? [];
  return words.filter(
    (w) =>
      !/[0-9_./@-]/.test(w) &&
      !/[a-z][A-Z]/.test(w) &&
      !/^[A-Z]+$/.test(w) &&
      w.length > 1 &&
      !allowed.has(w.toLowerCase()),
  );
}

/** What a reader of the Chinese page reads of explained text: everything but its data. */
const wordsOf = (segments: Segment[]) =>
  segments
    .filter((s) => typeof s === "string")
    .join("")
    .replace(/\{\w+\}/g, " ");

describe("the dashboard's dictionaries", () => {
  const english = entries(en);
  const chinese = entries(zh);

  it("have the same keys in English and Chinese, each with the same placeholders", () => {
    expect([...chinese.keys()].filter((k) => !english.has(k))).toEqual([]);
    expect([...english.keys()].filter((k) => !chinese.has(k))).toEqual([]);
    const holes = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, text] of english) {
      expect({ key, holes: holes(chinese.get(key) ?? "") }).toEqual({ key, holes: holes(text) });
      expect({ key, empty: (chinese.get(key) ?? "").trim() === "" }).toEqual({ key, empty: false });
    }
  });

  it("say a count in the form it needs", () => {
    const counted = (count: number) => i18n.t("given", { count });
    expect([counted(1), counted(2), counted(0)]).toEqual(["1 tool", "2 tools", "0 tools"]);
    i18n.setLanguage("zh-CN");
    expect([counted(1), counted(2)]).toEqual(["1 个工具", "2 个工具"]);
    i18n.setLanguage("en");
  });

  it("have no English sentence in Chinese", () => {
    const found = [...chinese].flatMap(([key, text]) =>
      englishWords(text.replace(/\{\w+\}/g, " ")).map((w) => `${key}: ${w}`),
    );
    expect(found).toEqual([]);
  });

  it("hold every key the page asks for", () => {
    const sources = readdirSync(assets)
      .filter((f) => f.endsWith(".js") && !f.startsWith("messages-"))
      .map((f) => readFileSync(join(assets, f), "utf8"));
    const html = readFileSync(join(assets, "../index.html"), "utf8");
    const asked = new Set<string>();
    for (const m of html.matchAll(/data-i18n(?:-[a-z-]+)?="(\w+)"/g)) asked.add(m[1] as string);
    for (const source of sources) {
      for (const m of source.matchAll(/\b(?:t|format)\("([\w.]+)"/g)) asked.add(m[1] as string);
      for (const m of source.matchAll(/\bword\("(\w+)", "(\w+)"\)/g)) asked.add(`${m[1]}.${m[2]}`);
      for (const m of source.matchAll(/\br\("(\w+)"/g)) asked.add(`reasons.${m[1]}`);
    }
    expect(asked.size).toBeGreaterThan(150);
    // A template that says a count has its forms under it (`given.one`, `given.other`).
    expect([...asked].filter((key) => !english.has(key) && !english.has(`${key}.other`))).toEqual([]);
  });

  it("have the demo tools' descriptions, word for word as the tools give them", async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = createDemoTools();
    await server.connect(serverSide);
    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(clientSide);
    const { tools } = await client.listTools();
    await client.close();
    await server.close();
    const descriptions = Object.values((en.descriptions ?? {}) as Dictionary);
    expect(tools.map((t) => t.description).sort()).toEqual([...descriptions].sort());
  });

  it("pick the language asked for, then the one chosen before, then the browser's, then the time zone's", () => {
    const pick = i18n.pickLanguage;
    expect(pick({ query: "en", saved: "zh-CN", languages: ["zh-CN"] })).toBe("en");
    expect(pick({ query: "fr", saved: "zh-CN" })).toBe("zh-CN");
    expect(pick({ saved: "en", languages: ["zh-TW"] })).toBe("en");
    expect(pick({ languages: ["en-US", "zh"] })).toBe("zh-CN");
    expect(pick({ languages: ["en-US"], timeZone: "Asia/Shanghai" })).toBe("zh-CN");
    expect(pick({ languages: ["en-US"], timeZone: "Asia/Hong_Kong" })).toBe("en");
    expect(pick({ languages: ["zhx-Latn"] })).toBe("en");
    // The time zone read only when nothing before it decided.
    let asked = 0;
    const zone = () => {
      asked++;
      return "Asia/Shanghai";
    };
    expect(pick({ saved: "en", timeZone: zone })).toBe("en");
    expect(pick({ languages: ["zh-TW"], timeZone: zone })).toBe("zh-CN");
    expect(asked).toBe(0);
    expect(pick({ languages: ["en-US"], timeZone: zone })).toBe("zh-CN");
    expect(asked).toBe(1);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Why a service cannot start, as the service says it. */
async function whyServiceFails(config: ConstructorParameters<typeof McpService>[1]): Promise<string> {
  const service = new McpService("probe", config, {});
  await service.start(AbortSignal.timeout(10_000)).catch(() => {});
  await service.stop();
  return service.lastError ?? "";
}

/** What a running manager says of customMCP tools it cannot serve, before and after its service is up. */
async function customToolReasons(): Promise<string[]> {
  const services = { demo: { command: process.execPath, args: [demoTools] } };
  const manager = new McpServiceManager(services);
  const mcp = (name: string, serviceName: string, toolName: string) => ({
    name,
    handler: { type: "mcp", config: { serviceName, toolName } },
  });
  const tools = [mcp("a", "nowhere", "t"), mcp("b", "demo", "none"), mcp("c", "demo", "clock")];
  manager.prepare(services, undefined, { tools: [...tools, mcp("c", "demo", "clock")] }).commit();
  const reasons = () => manager.allTools().flatMap((t) => (t.unavailable ? [t.unavailable] : []));
  const before = reasons();
  await manager.start();
  const after = reasons();
  await manager.stop();
  expect(after).toHaveLength(3);
  return [...before, ...after];
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("it did not throw");
}

describe("the product's error texts, in words", () => {
  it("explains what the real code says, in Chinese without English and in English", async () => {
    const port = await closedPort();
    const texts = [
      // Links: what the endpoint supervisor and the connection write.
      "closed 1000",
      "closed 1001 going away",
      "closed 1006",
      "closed 1006 heartbeat timeout: no pong",
      "closed 1008 invalid token",
      "closed 1011",
      "closed 4004 Internal server error",
      "closed 4403 forbidden",
      "closed 3999 custom",
      "closed during handshake (1006 )",
      "closed right after connecting (1008 token rejected)",
      "gave up after 5 reconnect attempts: closed 1006",
      "not connected within 10000 ms",
      "the link closed before the ping was answered",
      classifyUpgradeStatus(401).message,
      classifyUpgradeStatus(502).message,
      // What a cluster instance shows of the endpoints of a peer that stopped beating.
      "not confirmed: instance b has stopped sending heartbeats",
      `connect ECONNREFUSED 127.0.0.1:${port}`,
      "getaddrinfo ENOTFOUND api.example.invalid",
      "read ECONNRESET",
      // Services, as they fail for real.
      await whyServiceFails({ command: "xiaozhi-no-such-command" }),
      await whyServiceFails({
        command: process.execPath,
        args: ["-e", "console.error('Error: Cannot find module /x/y.js'); process.exit(3)"],
      }),
      await whyServiceFails({ type: "streamable-http", url: `http://127.0.0.1:${port}/mcp` }),
      await whyServiceFails({ type: "sse", url: `http://127.0.0.1:${port}/sse` }),
      // Tools that cannot run here.
      unavailableReason({ name: "a", handler: { type: "function" } } as never, undefined) ?? "",
      unavailableReason({ name: "a", handler: { type: "proxy", platform: "dify" } } as never, undefined) ??
        "",
      unavailableReason({ name: "a", handler: { type: "proxy", platform: "coze" } } as never, undefined) ??
        "",
      unavailableReason(
        { name: "a", handler: { type: "proxy", platform: "coze", config: { workflow_id: "1" } } } as never,
        undefined,
      ) ?? "",
      unavailableReason({ name: "a", handler: { type: "http" } } as never, undefined) ?? "",
      unavailableReason({ handler: { type: "http" } } as never, undefined) ?? "",
      unavailableReason({ name: "a" } as never, undefined) ?? "",
      unavailableReason({ name: "a", handler: {} } as never, undefined) ?? "",
      unavailableReason({ name: "a", handler: { type: "mcp", config: {} } } as never, undefined) ?? "",
      ...(await customToolReasons()),
      uncallableReason({ execution: { taskSupport: "required" } }) ?? "",
      // The config file.
      ...["{", '{"a": }', '{"a" 1}', '{"a":1}}', "{/* x", "[1,,2]"].map((text) =>
        messageOf(() => parseConfigText(text)),
      ),
      ...["{a:", "{a: 1,}}", "{a b}", "{a: 1 'b': 2}"].map((text) =>
        messageOf(() => parseConfigText(text, "json5")),
      ),
      messageOf(() =>
        parseConfigText(JSON.stringify({ connection: { heartbeatInterval: "x", heartbeatTimeout: -1 } })),
      ),
      messageOf(() => parseConfigText(JSON.stringify({ webUI: { port: 70000, authToken: "short" } }))),
      messageOf(() => parseConfigText(JSON.stringify({ mcpEndpoint: 5, mcpServers: { a: {} } }))),
      messageOf(() =>
        parseConfigText(JSON.stringify({ mcpServers: { a: { replicas: [] }, b: { url: "ftp://x" } } })),
      ),
      messageOf(() => parseConfigText(JSON.stringify({ mcpServers: { a: { replicas: [{}] } } }))),
      messageOf(() =>
        parseConfigText(JSON.stringify({ cluster: { redis: "http://x", instanceId: "a b", extra: 1 } })),
      ),
      messageOf(() => parseConfigText("[]")),
      messageOf(() => parseConfigText(JSON.stringify({ webUI: { authToken: `\${XZ_NEVER_SET_VARIABLE}` } }))),
      messageOf(() => parseConfigText(JSON.stringify({ connection: { maxResultBytes: 100 } }))),
      `config unreadable: ${await readFile("/nonexistent/xiaozhi.config.json").catch((e: Error) => e.message)}`,
      messageOf(() => new StrategyRegistry().create("fastest")),
      messageOf(() => serviceToWrite("bad name", {})),
      messageOf(() => serviceToWrite("a__b", {})),
      // What the API says of an endpoint it refuses.
      ...["", "<请填写接入点>", "http://example.com/mcp", "not a url", `wss://x/${"a".repeat(2100)}`].map(
        (url) => messageOf(() => endpointToAdd(url)),
      ),
      messageOf(() => endpointToAdd("wss://example.com/mcp", "n".repeat(121))),
    ];
    const unknown = texts.filter((text) => !reasons.known(text));
    expect(unknown).toEqual([]);
    i18n.setLanguage("zh-CN");
    const leftOver = texts.flatMap((text) =>
      englishWords(wordsOf(reasons.explain(text))).map((w) => `${w} in ${text}`),
    );
    i18n.setLanguage("en");
    expect(leftOver).toEqual([]);
    // The English words, for a few.
    const words = (text: string) => i18n.plain(reasons.explain(text));
    expect(words("closed 1006")).toBe("connection lost (code 1006)");
    expect(words("closed 1008 invalid token")).toBe("token rejected (code 1008: invalid token)");
    expect(words("closed 4004 Internal server error")).toBe(
      "the server had an error (code 4004: Internal server error)",
    );
    expect(words(texts[20] as string)).toBe("command xiaozhi-no-such-command not found");
    i18n.setLanguage("zh-CN");
    expect(words("closed 1006")).toBe("连接中断（代码 1006）");
    expect(words("closed 1008 invalid token")).toBe("令牌被拒绝（代码 1008）");
    expect(words("closed 1008 令牌无效")).toBe("令牌被拒绝（代码 1008：令牌无效）");
    expect(words("closed 4004 Internal server error")).toBe("服务器出错（代码 4004）");
    expect(words("not confirmed: instance b has stopped sending heartbeats")).toBe(
      "未确认：实例 b 已停止发送心跳",
    );
    i18n.setLanguage("en");
    // A text of no known form is shown whole, as data.
    expect(reasons.explain("something else entirely")).toEqual([{ data: "something else entirely" }]);
  }, 60_000);
});
