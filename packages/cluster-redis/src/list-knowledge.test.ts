import type { ListedEndpoint } from "@xiaozhi-connect/webserver-adapter";
import { describe, expect, it } from "vitest";
import { ListKnowledge } from "./list-knowledge.js";

const entries = (n: number) => Array.from({ length: n }, (_, i) => `ws://127.0.0.1:9/mcp/?token=t${i}`);

describe("the list known here", () => {
  it("keeps its entries, and what was worked out from them, when Redis gives the same list back", () => {
    let described = 0;
    const describeList = (list: readonly unknown[]): ListedEndpoint[] => {
      described++;
      return list.map((url, i) => ({ id: `ep-${i}`, url: String(url), weight: 1 }));
    };
    const seed = entries(3);
    const list = new ListKnowledge(seed, describeList);
    const desired = list.desired;
    // A cold start reads back the seed it wrote: the same entries, parsed anew.
    const seeded = list.seed(() => "e1");
    const readBack = { ...seeded, entries: JSON.parse(JSON.stringify(seeded.entries)), settleUntil: 0 };
    expect(list.adopt(readBack)).toBe(true);
    expect(list.epoch).toBe("e1");
    expect(list.entries).toBe(seed);
    expect(list.desired).toBe(desired);
    expect(described).toBe(1);
    // Another list is taken and described.
    const other = { ...readBack, version: 2, entries: entries(4) };
    expect(list.adopt(other)).toBe(true);
    expect(list.entries).toBe(other.entries);
    expect(list.desired.size).toBe(4);
    expect(described).toBe(2);
  });
});
