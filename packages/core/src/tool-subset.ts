import type { EndpointDescriptor } from "./endpoint.js";
import { serviceOf, type ToolCallOptions, type ToolDescriptor, type ToolSource } from "./tool-source.js";

/**
 * The view of one ToolSource that an endpoint with `services` and/or `tools` is allowed to see:
 * it lists only those tools and refuses calls to the others. Holds no copy of the list; it
 * filters what the source returns.
 */
export function toolSubset(
  source: ToolSource,
  endpoint: Pick<EndpointDescriptor, "services" | "tools">,
): ToolSource {
  const services = endpoint.services ? new Set(endpoint.services) : undefined;
  const tools = endpoint.tools ? new Set(endpoint.tools) : undefined;
  if (!services && !tools) return source;
  const allowed = (name: string) => {
    return tools?.has(name) === true || services?.has(serviceOf(name)) === true;
  };
  const filter = (list: readonly ToolDescriptor[]) => list.filter((tool) => allowed(tool.name));
  return {
    listTools: () => {
      const list = source.listTools();
      return Array.isArray(list) ? filter(list) : (list as Promise<readonly ToolDescriptor[]>).then(filter);
    },
    callTool: async (name: string, args: Record<string, unknown> | undefined, options: ToolCallOptions) =>
      allowed(name)
        ? source.callTool(name, args, options)
        : { content: [{ type: "text", text: `Unknown tool: ${name}` }], isError: true },
    onToolsChanged: (listener) => source.onToolsChanged(listener),
  };
}
