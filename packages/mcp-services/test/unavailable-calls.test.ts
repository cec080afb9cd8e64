import { describe, expect, it } from "vitest";
import { McpServiceManager } from "../src/index.js";

const signal = () => new AbortController().signal;

describe("a call to a tool that is not offered", () => {
  it("gives an unavailable custom tool's reason, as the tool list does", async () => {
    const manager = new McpServiceManager({});
    manager
      .prepare({}, undefined, {
        tools: [
          { name: "say_hi", handler: { type: "function", module: "./hi.js", function: "hi" } },
          { name: "ask_dify", handler: { type: "proxy", platform: "dify", config: {} } },
          { name: "flow", handler: { type: "proxy", platform: "coze", config: { workflow_id: "7" } } },
          { name: "off", enable: false, handler: { type: "function" } },
        ],
      })
      .commit();
    await manager.start();
    const call = (name: string) => manager.callTool(name, {}, { signal: signal() });
    for (const name of ["say_hi", "ask_dify", "flow"]) {
      const listed = manager.allTools().find((t) => t.name === name);
      expect(listed?.unavailable).toBeTruthy();
      await expect(call(name)).rejects.toMatchObject({
        code: "UNKNOWN_TOOL",
        message: `${name} is unavailable: ${listed?.unavailable}`,
      });
    }
    await expect(call("say_hi")).rejects.toThrow(/handler type "function" is not supported/);
    await expect(call("ask_dify")).rejects.toThrow(/proxy platform "dify" is not supported/);
    await expect(call("flow")).rejects.toThrow(/platforms\.coze\.token is not set/);
    // Switched off, a tool is refused as before, whatever else is wrong with it; so is a name no
    // tool has.
    await expect(call("off")).rejects.toThrow(/^unknown or disabled tool: off$/);
    await expect(call("nobody")).rejects.toThrow(/^unknown or disabled tool: nobody$/);
    await manager.stop();
  });
});
