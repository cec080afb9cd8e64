// The READMEs' samples as an app that embeds the packages compiles them: against their published
// types (built `.d.ts`, not the sources) and with the strictest optional-property setting
// (`exactOptionalPropertyTypes`), which an option left `undefined` must pass. Type-checked only.
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import { ConnectionManager, type Strategy, type ToolSource } from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { McpServiceManager } from "@xiaozhi-connect/mcp-services";
import { XiaozhiConnectionManager, xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import {
  ConfigFile,
  createLogger,
  createXiaozhiContainer,
  createXiaozhiRoutes,
  hostGuard,
  registerXiaozhi,
  type XiaozhiConfig,
  XiaozhiConnectionAdapter,
} from "@xiaozhi-connect/webserver-adapter";

export async function coreSample(toolSource: ToolSource): Promise<void> {
  const connectionFactory = xiaozhiConnectionFactory({});
  const manager = new ConnectionManager({
    connectionFactory,
    maxReconnectAttempts: Number.POSITIVE_INFINITY,
    backoff: { initialDelay: 1000, maxDelay: 60_000 },
  });
  manager.on("stateChanged", (e) => console.log(e.url, e.from, "→", e.to));
  await manager.initialize(["wss://api.xiaozhi.me/mcp/?token=A"], toolSource);
  await manager.connect();
  const lastConnected: Strategy = {
    specificationVersion: "v1",
    name: "newest-first",
    select: (candidates) => candidates.at(-1),
  };
  manager.configure({ strategy: lastConnected });
  await manager.cleanup();
  connectionFactory.dispose?.();
}

export function balancerSample(): void {
  const registry = StrategyRegistry.withBuiltins();
  const manager = new ConnectionManager({
    connectionFactory: new MemoryNetwork().factory,
    strategy: registry.create("least-inflight"),
  });
  manager.configure({ strategy: registry.create("health-based") });
}

export async function servicesSample(config: XiaozhiConfig): Promise<void> {
  const manager = new XiaozhiConnectionManager({ transport: {} });
  const services = new McpServiceManager(config.mcpServers ?? {}, { toolSwitches: config.mcpServerConfig });
  await services.start();
  manager.setServiceManager(services);
}

/** `token` as an app reads it from its environment: maybe not set. */
export async function adapterSample(token: string | undefined, allowedHosts?: string[]): Promise<void> {
  const logger = createLogger();
  const configFile = new ConfigFile("./xiaozhi.config.json", { logger });
  await configFile.load();
  const container = registerXiaozhi(createXiaozhiContainer(), { configFile, logger });
  const adapter = container.resolve(XiaozhiConnectionAdapter);
  createXiaozhiRoutes(adapter, { authToken: token });
  hostGuard({ host: "0.0.0.0", allowedHosts });
}
