import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { fitResult } from "./result-budget.js";

/** The bytes of the message the SDK sends for this answer. */
const messageBytes = (result: CallToolResult, id: string | number) =>
  Buffer.byteLength(JSON.stringify({ result, jsonrpc: "2.0", id }));
const texts = (result: CallToolResult) => result.content.map((item) => (item as { text: string }).text);

describe("fitResult", () => {
  it("leaves a result that fits, or any result with the limit off, as it is", () => {
    const result: CallToolResult = { content: [{ type: "text", text: "x".repeat(20_000) }] };
    expect(fitResult(result, 1, 0).result).toBe(result);
    const small: CallToolResult = { content: [{ type: "text", text: "ok" }] };
    expect(fitResult(small, 1, 8192)).toEqual({ result: small });
  });

  it("never leaves a message over the limit untouched, near the limit, for any text or item count", () => {
    const pieces = ["a", "\u0001", '"', "天", "😀", "\n"];
    for (const piece of pieces) {
      for (const items of [1, 3]) {
        for (let length = 1; length <= 1400; length += 97) {
          const result: CallToolResult = {
            content: Array.from({ length: items }, () => ({
              type: "text" as const,
              text: piece.repeat(length),
            })),
            isError: false,
          };
          for (const id of [0, "x".repeat(40)]) {
            const fitted = fitResult(result, id, 8192);
            expect(messageBytes(fitted.result, id)).toBeLessThanOrEqual(8192);
            if (fitted.result === result) expect(fitted.truncated).toBeUndefined();
            else expect(messageBytes(result, id)).toBeGreaterThan(8192);
          }
        }
      }
    }
  });

  it("fits the whole message, ids and escapes included, whatever the text is made of", () => {
    const samples = [
      "x".repeat(50_000),
      '"\\\n\t'.repeat(10_000),
      "天气晴朗".repeat(5000),
      "😀".repeat(9000),
      "\u0001".repeat(9000),
    ];
    for (const text of samples) {
      for (const id of [7, "a-long-string-id-rewritten-by-a-relay-0123456789"]) {
        for (const limit of [512, 1000, 8192]) {
          const { result, truncated } = fitResult({ content: [{ type: "text", text }] }, id, limit);
          const bytes = messageBytes(result, id);
          expect(bytes).toBeLessThanOrEqual(limit);
          expect(truncated?.to).toBe(bytes);
          // The room is used: never more than a few characters short of the limit.
          expect(bytes).toBeGreaterThan(limit - 40);
          expect(texts(result)[0]).toMatch(/\[(truncated|已截断)/);
          // Whole code points only: no lone surrogate is left at the cut.
          expect(texts(result)[0]).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
        }
      }
    }
  });

  it("keeps text items in order, drops what the agent cannot use, and keeps isError", () => {
    const { result } = fitResult(
      {
        content: [
          { type: "text", text: "first" },
          { type: "image", data: "A".repeat(20_000), mimeType: "image/png" },
          { type: "audio", data: "A".repeat(100), mimeType: "audio/wav" },
          { type: "resource_link", uri: "file:///a", name: "a" },
          { type: "text", text: "second ".repeat(2000) },
        ],
        structuredContent: { text: "first" },
        isError: true,
      },
      1,
      2048,
    );
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(result.content.every((item) => item.type === "text")).toBe(true);
    const [first, second] = texts(result);
    expect(first).toBe(
      "first\n[truncated: " +
        `${5 + Buffer.byteLength(second ?? "")} of ${5 + 14_000} bytes; ` +
        "dropped 1 image, 1 audio, 1 resource link, structured content]",
    );
    expect(second).toMatch(/^(second )+/);
    expect(messageBytes(result, 1)).toBeLessThanOrEqual(2048);
  });

  it("says in Chinese what it cut from a Chinese result, and notes a result with no text at all", () => {
    const chinese = fitResult({ content: [{ type: "text", text: "天气".repeat(5000) }] }, 1, 1024).result;
    expect(texts(chinese)[0]).toMatch(/\n\[已截断：保留 \d+ \/ 共 30000 字节\]$/);
    const image = fitResult(
      { content: [{ type: "image", data: "A".repeat(10_000), mimeType: "image/png" }] },
      1,
      1024,
    ).result;
    expect(texts(image)).toEqual(["[truncated: 0 of 0 bytes; dropped 1 image]"]);
  });
});
