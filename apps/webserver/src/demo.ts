import { fileURLToPath } from "node:url";
import type { Logger } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws";
import type { XiaozhiConfig } from "@xiaozhi-connect/webserver-adapter";

export interface DemoOptions {
  /** Period of the flaky endpoint's drops, ms; default 9000. */
  readonly flakyEveryMs?: number;
  /** Period of the tool calls the simulated agents make, ms; default 2500. */
  readonly callEveryMs?: number;
  readonly logger: Logger;
}

/** A running demo: its config (three endpoints on a simulated cloud, the demo tools) and `stop()`. */
export interface Demo {
  readonly config: XiaozhiConfig;
  stop(): Promise<void>;
}

const agents = ["home", "office", "flaky"] as const;

/**
 * Demo mode: a simulated Xiaozhi cloud on loopback with three agents (one flaky: its link drops
 * every few seconds), the built-in demo tools as a real stdio MCP service, and agents that call
 * those tools, so the dashboard shows real traffic, reconnects and health changes.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const cloud = await SimulatedXiaozhiCloud.start({ clientName: "xz-demo-cloud" });
  const token = (agent: string) => `demo-${agent}-${Math.random().toString(36).slice(2, 10)}`;
  const tokens = Object.fromEntries(agents.map((a) => [a, token(a)])) as Record<
    (typeof agents)[number],
    string
  >;
  cloud.configure(tokens.office, { latencyMs: 40 });
  let round = 0;
  const flaky = setInterval(() => {
    // Alternate a silent drop and a server error close, as real links fail.
    if (round++ % 2 === 0) cloud.drop(tokens.flaky);
    else cloud.close(tokens.flaky, 4004, "Internal server error");
  }, options.flakyEveryMs ?? 9000);
  let calls = 0;
  const traffic = setInterval(() => {
    for (const session of cloud.sessions()) {
      const call =
        calls++ % 3 === 2
          ? session.callTool("demo__clock", { timeZone: "Asia/Shanghai" })
          : session.callTool("demo__calculator", { a: calls, b: 7, op: "multiply" });
      call.catch(() => {});
    }
  }, options.callEveryMs ?? 2500);
  const tools = fileURLToPath(new URL("./demo-tools.js", import.meta.url));
  return {
    config: {
      mcpEndpoint: agents.map((a) => ({ url: cloud.endpointUrl(tokens[a]), name: a })),
      mcpServers: { demo: { command: process.execPath, args: [tools] } },
      connection: { heartbeatInterval: 5000, heartbeatTimeout: 3000, reconnectInterval: 1000 },
    },
    async stop() {
      clearInterval(flaky);
      clearInterval(traffic);
      await cloud.stop();
    },
  };
}
