// The demo's built-in tools, a calculator and a clock, as an MCP server.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** The demo tools as an MCP server, not connected to anything yet. */
export function createDemoTools(): McpServer {
  const server = new McpServer({ name: "xiaozhi-connect-demo-tools", version: "1.0.0" });
  const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] });
  const operations = {
    add: (a: number, b: number) => a + b,
    subtract: (a: number, b: number) => a - b,
    multiply: (a: number, b: number) => a * b,
    divide: (a: number, b: number) => a / b,
  };

  server.registerTool(
    "calculator",
    {
      description: "Does arithmetic on two numbers",
      inputSchema: { a: z.number(), b: z.number(), op: z.enum(["add", "subtract", "multiply", "divide"]) },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    ({ a, b, op }) => {
      if (op === "divide" && b === 0) return { ...text("cannot divide by zero"), isError: true };
      return text(String(operations[op](a, b)));
    },
  );

  server.registerTool(
    "clock",
    {
      description: "Tells the current time, optionally in an IANA time zone such as Asia/Shanghai",
      inputSchema: { timeZone: z.string().optional() },
      annotations: { readOnlyHint: true },
    },
    ({ timeZone }) => {
      try {
        return text(
          new Date().toLocaleString("en-GB", { timeZone: timeZone ?? "UTC", timeZoneName: "short" }),
        );
      } catch {
        return { ...text(`unknown time zone: ${timeZone}`), isError: true };
      }
    },
  );

  return server;
}
