// Uses the adapter with DI as a WebServer would. The adapter loads reflect-metadata itself, so it
// comes before tsyringe here.

import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { registerXiaozhi, XiaozhiConnectionAdapter } from "@xiaozhi-connect/webserver-adapter";
import { container } from "tsyringe";

const cloud = await SimulatedXiaozhiCloud.start();
registerXiaozhi(container, { config: { mcpEndpoint: [cloud.endpointUrl("a"), "<请填写你的接入点>"] } });
const adapter = container.resolve(XiaozhiConnectionAdapter);
await adapter.start();
console.log(JSON.stringify({ endpoints: adapter.endpoints().map((e) => ({ state: e.state, url: e.url })) }));
await adapter.cleanup();
await cloud.stop();
