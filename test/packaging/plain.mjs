// Uses core + transport-ws + balancer as an npm user would, without DI.
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import { ConnectionManager } from "@xiaozhi-connect/core";
import { xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";

const cloud = await SimulatedXiaozhiCloud.start();
const manager = new ConnectionManager({
  connectionFactory: xiaozhiConnectionFactory(),
  strategy: StrategyRegistry.withBuiltins().create("least-inflight"),
});
const tools = {
  specificationVersion: "v1",
  listTools: () => [{ name: "demo__hello", inputSchema: { type: "object" } }],
  callTool: async () => ({ content: [{ type: "text", text: "hello" }] }),
  onToolsChanged: () => () => {},
};
await manager.initialize([cloud.endpointUrl("a"), cloud.endpointUrl("b")], tools);
await manager.connect();
const session = await cloud.waitForSession("a");
const listed = (await session.listTools()).map((t) => t.name);
const called = await session.callTool("demo__hello", {});
const rtt = await manager.dispatch((connection) => connection.ping());
console.log(
  JSON.stringify({
    connected: manager.getConnectionStatus().filter((s) => s.connected).length,
    listed,
    called: called.content[0].text,
    rtt: typeof rtt,
  }),
);
await manager.cleanup();
await cloud.stop();
