import type { ToolSource } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { toolSubset } from "./tool-subset.js";

const tool = (name: string) => ({ name, inputSchema: { type: "object" as const } });
const calls: string[] = [];
const listeners = new Set<() => void>();
const source: ToolSource = {
  specificationVersion: "v1",
  listTools: () => [tool("home__light"), tool("home__door"), tool("calc__add"), tool("clock__now")],
  callTool: async (name) => {
    calls.push(name);
    return { content: [{ type: "text", text: name }] };
  },
  onToolsChanged: (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
const signal = new AbortController().signal;

describe("toolSubset", () => {
  it("returns the source itself when the endpoint restricts nothing", () => {
    expect(toolSubset(source, {})).toBe(source);
  });

  it("lists and runs only the endpoint's services and tools", async () => {
    calls.length = 0;
    const view = toolSubset(source, { services: ["home"], tools: ["calc__add"] });
    expect((await view.listTools()).map((t) => t.name)).toEqual(["home__light", "home__door", "calc__add"]);
    expect(await view.callTool("clock__now", {}, { signal })).toMatchObject({ isError: true });
    await view.callTool("home__door", {}, { signal });
    await view.callTool("calc__add", {}, { signal });
    expect(calls).toEqual(["home__door", "calc__add"]);
  });

  it("filters asynchronous lists and passes change notifications through", async () => {
    const view = toolSubset(
      { ...source, listTools: async () => source.listTools() },
      { tools: ["clock__now"] },
    );
    expect((await view.listTools()).map((t) => t.name)).toEqual(["clock__now"]);
    let heard = 0;
    const stop = view.onToolsChanged(() => heard++);
    for (const listener of listeners) listener();
    stop();
    expect(heard).toBe(1);
    expect(listeners.size).toBe(0);
  });
});
