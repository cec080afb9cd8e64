import type {
  Connection,
  ConnectionFactory,
  ToolCallOptions,
  ToolDescriptor,
  ToolSource,
} from "@xiaozhi-connect/core";
import { serviceOf } from "./service-config.js";

/** Which services and tools one endpoint may see: the `{url, services?, tools?}` form of `mcpEndpoint`. */
export interface ToolFilter {
  /** When set, the tools of these services. */
  readonly services?: readonly string[];
  /** When set, these tools (full `<service>__<tool>` names). */
  readonly tools?: readonly string[];
}

/**
 * The view of one ToolSource that an endpoint with `services` and/or `tools` is allowed to see:
 * it lists only those tools and refuses calls to the others. Holds no copy of the list; it
 * filters what the source returns. Without a filter, the source itself.
 */
export function toolSubset(source: ToolSource, filter: ToolFilter | undefined): ToolSource {
  const services = filter?.services ? new Set(filter.services) : undefined;
  const tools = filter?.tools ? new Set(filter.tools) : undefined;
  if (!services && !tools) return source;
  const allowed = (name: string) => tools?.has(name) === true || services?.has(serviceOf(name)) === true;
  // The source's list last filtered and its view: a thousand links asking for an unchanged list
  // get one array.
  let from: readonly ToolDescriptor[] | undefined;
  let last: readonly ToolDescriptor[] = [];
  const only = (list: readonly ToolDescriptor[]) => {
    if (list !== from) {
      last = list.filter((tool) => allowed(tool.name));
      from = list;
    }
    return last;
  };
  return {
    specificationVersion: "v1",
    listTools: () => {
      const list = source.listTools();
      return Array.isArray(list) ? only(list) : (list as Promise<readonly ToolDescriptor[]>).then(only);
    },
    ready: () => source.ready?.(),
    callTool: async (name: string, args: Record<string, unknown> | undefined, options: ToolCallOptions) =>
      allowed(name)
        ? source.callTool(name, args, options)
        : { content: [{ type: "text", text: `Unknown tool: ${name}` }], isError: true },
    onToolsChanged: (listener) => source.onToolsChanged(listener),
  };
}

/**
 * Wraps a connection factory so each endpoint serves the subset its `data` names (a `ToolFilter`,
 * as `{url, services?, tools?}` entries of `mcpEndpoint` give it). `configure` and `dispose` reach
 * the wrapped factory.
 */
export function filteredConnectionFactory<C extends Connection>(
  factory: ConnectionFactory<C>,
): ConnectionFactory<C> {
  const filtered: ConnectionFactory<C> = (endpoint, context) =>
    factory(endpoint, {
      ...context,
      tools: toolSubset(context.tools, endpoint.data as ToolFilter | undefined),
    });
  filtered.configure = (settings) => factory.configure?.(settings);
  filtered.dispose = () => factory.dispose?.();
  if (factory.probe) filtered.probe = factory.probe.bind(factory);
  return filtered;
}
