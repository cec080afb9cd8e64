import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** The largest tool-result message Xiaozhi takes, in bytes (the firmware author's published limit). */
export const defaultMaxResultBytes = 8192;

/** The smallest `maxResultBytes` that leaves room for a result and its note. */
export const minMaxResultBytes = 512;

/** A result cut to fit, with the size of its message before and after. */
export interface FittedResult {
  readonly result: CallToolResult;
  /** Set when the result was cut: the message's bytes before and after. */
  readonly truncated?: { readonly from: number; readonly to: number };
}

const bytes = (text: string): number => Buffer.byteLength(text, "utf8");
const jsonBytes = (value: unknown): number => bytes(JSON.stringify(value));

/**
 * An upper bound on the bytes of a result made only of text items (and `isError`), found without
 * serialising it: a UTF-16 unit takes at most 6 bytes in JSON (`\uXXXX`). Undefined for any other
 * shape. Most results are far inside the bound, and this spares each call a serialisation.
 */
function textResultBound(result: CallToolResult): number | undefined {
  const content = result.content;
  if (!Array.isArray(content)) return undefined;
  // `{"content":[…],"isError":false}` and the id's room are covered by the 64.
  let bound = 64;
  for (const key in result) if (key !== "content" && key !== "isError") return undefined;
  for (const item of content) {
    if (item.type !== "text" || typeof item.text !== "string") return undefined;
    for (const key in item) if (key !== "type" && key !== "text") return undefined;
    // `{"type":"text","text":""},`
    bound += 27 + 6 * item.text.length;
  }
  return bound;
}

// Han, kana and hangul: a result written in those gets its note in Chinese.
const cjk = /[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]/;

/**
 * Makes the JSON-RPC answer `{"result":…,"jsonrpc":"2.0","id":id}` to a `tools/call` fit in
 * `limit` bytes (0: no limit). A result that fits is returned as it is. Otherwise what an agent
 * cannot use in that budget is dropped (images, audio, embedded resources and links, and
 * `structuredContent`, which mirrors the text), the text is trimmed at a character boundary, and
 * the first text content (the one Xiaozhi's server reads) ends with a note saying so:
 * `[truncated: N of M bytes]` — in Chinese (`[已截断：…]`) when the result's text contains CJK
 * characters. N and M are the text's UTF-8 bytes kept and returned by the tool. `isError` stays.
 */
export function fitResult(result: CallToolResult, id: string | number, limit: number): FittedResult {
  if (limit <= 0) return { result };
  const bound = textResultBound(result);
  if (bound !== undefined && bound + 40 + String(id).length * 6 <= limit) return { result };
  const envelope = jsonBytes({ result: 0, jsonrpc: "2.0", id }) - 1;
  const from = envelope + jsonBytes(result);
  if (from <= limit) return { result };
  const budget = Math.max(0, limit - envelope);
  const content = Array.isArray(result.content) ? (result.content as readonly unknown[]) : [];
  const texts: string[] = [];
  const dropped = new Map<string, number>();
  for (const item of content) {
    const { type, text } = item as { type?: unknown; text?: unknown };
    if (type === "text" && typeof text === "string") texts.push(text);
    else dropped.set(String(type), (dropped.get(String(type)) ?? 0) + 1);
  }
  if (result.structuredContent !== undefined) dropped.set("structuredContent", 1);
  const chinese = texts.some((text) => cjk.test(text.slice(0, 4096)));
  const total = texts.reduce((sum, text) => sum + bytes(text), 0);
  const base = result.isError === true ? { isError: true as const } : {};
  // The note is sized for the largest numbers it can carry, so the text cut before it stays valid.
  const noteFor = (kept: number) => note(kept, total, dropped, chinese);
  const shell = (first: string, rest: readonly string[]): CallToolResult => ({
    content: [first, ...rest].map((text) => ({ type: "text" as const, text })),
    ...base,
  });
  // Room for text once the shell and a worst-case note are paid for.
  let room = budget - jsonBytes(shell(noteFor(total), []));
  const kept: string[] = [];
  let keptBytes = 0;
  for (const text of texts) {
    // Each further item costs its own `,{"type":"text","text":""}`.
    const cost = kept.length === 0 ? 0 : jsonBytes({ type: "text", text: "" }) + 1;
    if (room - cost <= 0) break;
    const cut = prefixWithin(text, room - cost);
    if (cut.length === 0 && kept.length > 0) break;
    kept.push(cut);
    keptBytes += bytes(cut);
    // The first joins the note after a "\n" (2 bytes escaped, as its quotes were counted).
    room -= kept.length === 1 ? jsonBytes(cut) : cost + jsonBytes(cut) - 2;
    if (cut.length < text.length) break;
  }
  const [first = "", ...rest] = kept;
  const separator = first ? "\n" : "";
  let fitted = shell(`${first}${separator}${noteFor(keptBytes)}`, rest);
  // Cannot happen with the arithmetic above; the bound is a promise, so it is checked anyway.
  if (envelope + jsonBytes(fitted) > limit) fitted = shell(noteFor(0), []);
  return { result: fitted, truncated: { from, to: envelope + jsonBytes(fitted) } };
}

/** The longest prefix of `text`, whole code points, whose JSON string form takes at most `max` bytes. */
function prefixWithin(text: string, max: number): string {
  if (max <= 2) return "";
  // Every character takes at least one byte: nothing past `max` characters can fit.
  let low = 0;
  let high = Math.min(text.length, max);
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (jsonBytes(text.slice(0, middle)) <= max) low = middle;
    else high = middle - 1;
  }
  // Never split a surrogate pair.
  const last = text.charCodeAt(low - 1);
  if (low > 0 && last >= 0xd800 && last <= 0xdbff) low--;
  return text.slice(0, low);
}

const englishNames: Readonly<Record<string, string>> = {
  image: "image",
  audio: "audio",
  resource: "resource",
  resource_link: "resource link",
  structuredContent: "structured content",
};
const chineseNames: Readonly<Record<string, string>> = {
  image: "图片",
  audio: "音频",
  resource: "资源",
  resource_link: "资源链接",
  structuredContent: "结构化内容",
};

function note(kept: number, total: number, dropped: ReadonlyMap<string, number>, chinese: boolean): string {
  const names = chinese ? chineseNames : englishNames;
  const parts = [...dropped].map(([type, count]) => {
    const name = names[type] ?? type;
    return type === "structuredContent" ? name : `${count} ${name}`;
  });
  if (chinese) {
    const cut = `[已截断：保留 ${kept} / 共 ${total} 字节`;
    return parts.length ? `${cut}；已省略 ${parts.join("、")}]` : `${cut}]`;
  }
  const cut = `[truncated: ${kept} of ${total} bytes`;
  return parts.length ? `${cut}; dropped ${parts.join(", ")}]` : `${cut}]`;
}
