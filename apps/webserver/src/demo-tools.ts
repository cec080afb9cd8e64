// The demo's built-in tools as a real stdio MCP service: `node demo-tools.js`.
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createDemoTools } from "./demo-tool-server.js";

await createDemoTools().connect(new StdioServerTransport());
