// One MCP server over streamable HTTP with an in-process `echo` tool, in a process of its own:
// `node mcp-route-child.mjs <product|sdk>`. `product` is the WebServer's `/mcp` route (the adapter,
// its routes, one configured client); `sdk` is the SDK's own streamable-HTTP server answering the
// same tool directly. Prints `ready <url> <token>`; then on stdin `mark` starts counting CPU and
// `report` prints the CPU used since, in µs, as JSON.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { serve } from "@hono/node-server";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "@xiaozhi-connect/core";
import {
  createXiaozhiContainer,
  createXiaozhiRoutes,
  registerXiaozhi,
  XiaozhiConnectionAdapter,
} from "@xiaozhi-connect/webserver-adapter";
import { echoTool, echoTools, serveCpuProbe } from "./lib.mjs";

const mode = process.argv[2];
const token = "bench-client-token-0123456789abcdef";
let url;
let close;
if (mode === "product") {
  const container = registerXiaozhi(createXiaozhiContainer(), {
    config: { clients: [{ name: "bench", token }] },
    logger: silentLogger,
  });
  const adapter = container.resolve(XiaozhiConnectionAdapter);
  const routes = createXiaozhiRoutes(adapter);
  await adapter.start();
  await adapter.initializeXiaozhiConnection([], echoTools);
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: routes.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  url = `http://127.0.0.1:${server.address().port}/mcp`;
  close = async () => {
    routes.close();
    await new Promise((resolve) => server.close(resolve));
    await adapter.cleanup();
  };
} else {
  // The SDK's own stateful streamable-HTTP server, as its documentation sets one up.
  const sessions = new Map();
  const server = createServer(async (req, res) => {
    const id = req.headers["mcp-session-id"];
    let transport = id ? sessions.get(id) : undefined;
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      const mcp = new Server({ name: "sdk", version: "1.0.0" }, { capabilities: { tools: {} } });
      mcp.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [echoTool] }));
      mcp.setRequestHandler(CallToolRequestSchema, async (request) =>
        echoTools.callTool(request.params.name, request.params.arguments),
      );
      await mcp.connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}/mcp`;
  close = async () => {
    for (const transport of sessions.values()) await transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
}

await serveCpuProbe(`ready ${url} ${token}`, close);
