import { endpointId, silentLogger, type ToolDescriptor } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { ToolLimits } from "../src/adapter/tool-limits.js";
import type { XiaozhiConfig } from "../src/config/schema.js";
import { defaultMaxTools } from "../src/index.js";
import { finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const httpTool = (name: string) => ({
  name,
  description: `Looks up ${name}`,
  inputSchema: { type: "object", properties: { q: { type: "string" } } },
  handler: { type: "http", url: "http://127.0.0.1:1/" },
});

describe("the tools each agent is given", () => {
  it("counts and measures each agent's list as it receives it, and warns over maxTools without cutting it", async () => {
    stack = await Stack.start({
      mcpEndpoint: [{ url: "cloud:a", maxTools: 2 }, { url: "cloud:b", tools: ["one"] }, "cloud:c"],
      connection: { maxTools: 3 },
      customMCP: { tools: [httpTool("one"), httpTool("two"), httpTool("three")] },
    });
    const s = stack;
    const session = await s.cloud.waitForSession(token("a"));
    const listed = await session.listTools();
    // Over its maxTools, the agent still gets every tool.
    expect(listed.map((t) => t.name)).toEqual(["one", "two", "three"]);
    const budget = (await s.api("GET", "/api/status")).body.toolBudget;
    expect(budget[endpointId(s.url("a"))]).toEqual({
      tools: 3,
      bytes: Buffer.byteLength(JSON.stringify({ tools: listed })),
      maxTools: 2,
      over: true,
    });
    expect(budget[endpointId(s.url("b"))]).toMatchObject({ tools: 1, maxTools: 3, over: false });
    expect(budget[endpointId(s.url("c"))]).toMatchObject({ tools: 3, maxTools: 3, over: false });
    await s.until(() => s.logs.some((line) => line.includes("more tools than maxTools")));
    const warnings = s.logs.filter((line) => line.includes("more tools than maxTools"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] ?? "{}")).toMatchObject({ tools: 3, maxTools: 2 });

    // A fourth tool: c is over the default of the connection block now, and a warns again.
    s.writeConfig({
      ...s.readConfig(),
      customMCP: { tools: ["one", "two", "three", "four"].map(httpTool) },
    });
    await s.until(
      () => s.logs.filter((line) => line.includes("more tools than maxTools")).length === 3,
      8000,
      "a warning for a and c",
    );
    const after = (await s.api("GET", "/api/status")).body.toolBudget;
    expect(after[endpointId(s.url("c"))]).toMatchObject({ tools: 4, maxTools: 3, over: true });

    // Only the connection block's maxTools changes: the budgets follow it, though the tools did not.
    s.writeConfig({ ...s.readConfig(), connection: { maxTools: 5 } });
    const c = endpointId(s.url("c"));
    await s.until(() => s.adapter.status("0").toolBudget?.[c]?.maxTools === 5, 8000, "maxTools 5 for c");
    expect((await s.api("GET", "/api/status")).body.toolBudget[c]).toMatchObject({ tools: 4, over: false });
    // Worked out once while nothing changes: every status carries them.
    expect(s.adapter.status("0").toolBudget).toBe(s.adapter.status("0").toolBudget);
    expect(defaultMaxTools).toBe(25);
  });

  it("works the budgets out again when the tools or connection.maxTools change, and only then", () => {
    const url = "ws://127.0.0.1:1/mcp/?token=t";
    const list = [url];
    let tools: readonly ToolDescriptor[] = [{ name: "one", inputSchema: { type: "object" } }];
    let config = { mcpEndpoint: list, connection: { maxTools: 1 } } as unknown as XiaozhiConfig;
    const limits = new ToolLimits({
      tools: {
        specificationVersion: "v1",
        listTools: () => tools,
        callTool: async () => ({ content: [] }),
        onToolsChanged: () => () => {},
      },
      logger: silentLogger,
      config: () => config,
      directory: { listed: (c) => c.mcpEndpoint, runsHere: () => true },
      select: () => ({ endpoints: [{ url }], skipped: [], ids: [endpointId(url)] }),
      names: () => new Map(),
    });
    const id = endpointId(url);
    const first = limits.budgets();
    expect(first?.[id]).toMatchObject({ tools: 1, maxTools: 1, over: false });
    expect(limits.budgets()).toBe(first);
    // The same list, another maxTools.
    config = { mcpEndpoint: list, connection: { maxTools: 0 } } as unknown as XiaozhiConfig;
    expect(limits.budgets()?.[id]).toMatchObject({ tools: 1, maxTools: 0, over: true });
    // Another tool list (a new array, as a source gives when its list changes).
    tools = [...tools, { name: "two", inputSchema: { type: "object" } }];
    expect(limits.budgets()?.[id]).toMatchObject({ tools: 2, maxTools: 0, over: true });
  });
  it("checks a change of what runs here against the exceeded budgets only, and warns for those run here", () => {
    // A cluster instance's list of 1,000, of which two endpoints are over their maxTools.
    const urls = Array.from({ length: 1000 }, (_, i) => `ws://127.0.0.1:1/mcp/?token=t${i}`);
    const entries = urls.map((url, i) => (i === 7 || i === 9 ? { url, maxTools: 0 } : url));
    const config = { mcpEndpoint: entries, connection: { maxTools: 5 } } as unknown as XiaozhiConfig;
    const ids = urls.map((url) => endpointId(url));
    let here = new Set(ids.slice(0, 8));
    let asked = 0;
    const warnings: Record<string, unknown>[] = [];
    const logger = { ...silentLogger, warn: (fields: Record<string, unknown>) => void warnings.push(fields) };
    const limits = new ToolLimits({
      tools: {
        specificationVersion: "v1",
        listTools: () => [{ name: "one", inputSchema: { type: "object" } }],
        callTool: async () => ({ content: [] }),
        onToolsChanged: () => () => {},
      },
      logger: logger as typeof silentLogger,
      config: () => config,
      directory: {
        listed: (c) => c.mcpEndpoint,
        runsHere: (id) => {
          asked++;
          return here.has(id);
        },
      },
      select: () => ({ endpoints: urls.map((url) => ({ url })), skipped: [], ids }),
      names: () => new Map(),
    });
    limits.check();
    expect(warnings.map((w) => w.endpoint)).toEqual([ids[7]]);
    // What runs here changes (a takeover, a handover): each check asks about the two, not the 1,000.
    asked = 0;
    here = new Set(ids.slice(8, 20));
    limits.check();
    expect(asked).toBe(2);
    expect(warnings.map((w) => w.endpoint)).toEqual([ids[7], ids[9]]);
    // Back here after running elsewhere: warned again; unchanged: not again.
    here = new Set(ids);
    limits.check();
    limits.check();
    expect(warnings.map((w) => w.endpoint)).toEqual([ids[7], ids[9], ids[7]]);
  });
});
