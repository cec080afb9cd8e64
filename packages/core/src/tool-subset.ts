import type { EndpointDescriptor } from "./endpoint.js";
import type { ToolCallOptions, ToolDescriptor, ToolSource } from "./tool-source.js";

/** Separator between service and tool in exposed names (`calc__add`). */
const separator = "__";

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
    if (tools?.has(name)) return true;
    const at = name.indexOf(separator);
    return services !== undefined && at > 0 && services.has(name.slice(0, at));
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
