import { describe, expect, it } from "vitest";
import { setup, url, useFakeTimers } from "./connection-manager.test-helpers.js";
import type { ToolSource } from "./tool-source.js";

useFakeTimers();

describe("tool source", () => {
  it("tells every connection when the tool source is replaced or changes", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1), url(2)]);
    let changes = 0;
    for (const c of network.all) c.tools.onToolsChanged(() => changes++);
    let fire: () => void = () => {};
    const source: ToolSource = {
      specificationVersion: "v1",
      listTools: () => [{ name: "calc__add", inputSchema: { type: "object" } }],
      callTool: async () => ({ content: [{ type: "text", text: "5" }] }),
      onToolsChanged: (l) => {
        fire = l;
        return () => {
          fire = () => {};
        };
      },
    };
    manager.setServiceManager(source);
    expect(changes).toBe(2);
    fire();
    expect(changes).toBe(4);
    expect(await manager.tools.listTools()).toHaveLength(1);
    expect(
      await manager.tools.callTool("calc__add", {}, { signal: new AbortController().signal }),
    ).toMatchObject({
      content: [{ text: "5" }],
    });
    await manager.cleanup();
    fire();
    expect(changes).toBe(4);
  });
});
