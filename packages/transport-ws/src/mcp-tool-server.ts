import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  type ConnectionEventMap,
  describeError,
  type Emitter,
  redact,
  type ToolDescriptor,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { raceAbort } from "@xiaozhi-connect/core/internal";

export interface ToolServerOptions {
  readonly serverInfo: { readonly name: string; readonly version: string };
  /** The tool-call deadline in ms, read at each call so a reload reaches calls made after it. */
  readonly callTimeout: number;
}

// One JSON-schema validator for every socket's MCP server: the SDK otherwise builds one per server.
let sharedValidator: AjvJsonSchemaValidator | undefined;

/**
 * The MCP server one Xiaozhi link carries (the Xiaozhi side is the MCP client): the SDK's `Server`
 * answering `tools/list` from the ToolSource and `tools/call` through it, with a deadline and
 * upstream cancellation on `notifications/cancelled`. Initialize, ping, -32601 and request
 * validation are the SDK's own.
 */
export function createToolServer(
  tools: ToolSource,
  options: ToolServerOptions,
  events: Emitter<ConnectionEventMap>,
): Server {
  const handled = (method: string, ok: boolean, started: number, tool?: string) =>
    events.emit("handled", {
      method,
      ...(tool === undefined ? {} : { tool }),
      ok,
      ms: performance.now() - started,
      at: Date.now(),
    });
  sharedValidator ??= new AjvJsonSchemaValidator();
  const server = new Server(
    { name: options.serverInfo.name, version: options.serverInfo.version },
    { capabilities: { tools: { listChanged: true } }, jsonSchemaValidator: sharedValidator },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const started = performance.now();
    const list = await tools.listTools();
    handled("tools/list", true, started);
    return { tools: list.map(toMcpTool) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const started = performance.now();
    const result = await callTool(tools, request.params.name, request.params.arguments, {
      cancelled: extra.signal,
      timeout: options.callTimeout,
    });
    handled("tools/call", result.isError !== true, started, request.params.name);
    return result;
  });
  return server;
}

/**
 * Runs one call with a deadline; the tool's signal aborts at the deadline or when the caller
 * cancels. Failures become an `isError` result with a token-free message.
 */
async function callTool(
  tools: ToolSource,
  name: string,
  args: Record<string, unknown> | undefined,
  { cancelled, timeout }: { cancelled: AbortSignal; timeout: number },
): Promise<CallToolResult> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new XiaozhiError("TIMEOUT", `tool call timed out after ${timeout} ms`)),
    timeout,
  );
  const onCancel = () => controller.abort(cancelled.reason);
  cancelled.addEventListener("abort", onCancel, { once: true });
  try {
    const result = await raceAbort(
      tools.callTool(name, args, { signal: controller.signal }),
      controller.signal,
    );
    return result as CallToolResult;
  } catch (error) {
    return { content: [{ type: "text", text: redact(describeError(error)) }], isError: true };
  } finally {
    // No abort once the call is done: an SDK client would send `notifications/cancelled` upstream
    // for a request that already finished.
    clearTimeout(timer);
    cancelled.removeEventListener("abort", onCancel);
  }
}

/** Only MCP `Tool` fields go on the wire; a ToolSource may carry more. */
function toMcpTool(tool: ToolDescriptor): Tool {
  const { name, title, description, inputSchema, outputSchema, annotations } = tool;
  return {
    name,
    inputSchema: inputSchema as Tool["inputSchema"],
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
    ...(outputSchema === undefined ? {} : { outputSchema: outputSchema as Tool["outputSchema"] }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}
