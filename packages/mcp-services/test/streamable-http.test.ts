import { createServer } from "node:net";
import { untilEvent } from "@xiaozhi-connect/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { McpServiceManager } from "../src/index.js";
// @ts-expect-error a plain-JS test fixture without types
import { startHttpCalc } from "./fixtures/http-calc.mjs";

interface HttpCalc {
  readonly url: string;
  readonly calls: string[];
  close(): Promise<void>;
}

const started: HttpCalc[] = [];
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function httpCalc(): Promise<HttpCalc> {
  const service = (await startHttpCalc()) as HttpCalc;
  started.push(service);
  return service;
}

/** A loopback URL where nothing listens: connections are refused. */
async function refusedUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}/mcp`;
}

const signal = () => AbortSignal.timeout(5000);

describe("a real streamable-HTTP service on loopback", () => {
  it("aggregates, calls with the configured headers, and follows list_changed", async () => {
    const service = await httpCalc();
    manager = new McpServiceManager({
      web: { type: "streamable-http", url: service.url, headers: { Authorization: "Bearer svc-secret" } },
    });
    await manager.start();
    expect(manager.listTools().map((t) => t.name)).toEqual(["web__add", "web__grow"]);
    const result = await manager.callTool("web__add", { a: 20, b: 22 }, { signal: signal() });
    expect(result.content).toEqual([{ type: "text", text: "42" }]);
    expect(service.calls).toEqual(["Bearer svc-secret"]);

    let changes = 0;
    manager.onToolsChanged(() => changes++);
    await manager.callTool("web__grow", {}, { signal: signal() });
    const target = manager;
    await untilEvent(
      (wake) => target.onToolsChanged(wake),
      () => target.listTools().some((t) => t.name === "web__mul"),
      5000,
      "mul listed",
    );
    expect(changes).toBeGreaterThan(0);
    expect((await manager.callTool("web__mul", { a: 6, b: 7 }, { signal: signal() })).content).toEqual([
      { type: "text", text: "42" },
    ]);
  });

  it("balances over replica URLs and never sends a call to a refused one", async () => {
    const a = await httpCalc();
    const b = await httpCalc();
    manager = new McpServiceManager(
      {
        web: {
          replicas: [{ url: a.url }, { url: await refusedUrl() }, { url: b.url }],
          strategy: "round-robin",
        },
      },
      { backoff: { initialDelay: 50, maxDelay: 200 } },
    );
    await manager.start();
    const states = manager.status()[0]?.replicas?.map((r) => r.state);
    expect(states?.[0]).toBe("connected");
    expect(states?.[1]).not.toBe("connected");
    expect(states?.[2]).toBe("connected");
    for (let i = 0; i < 20; i++) {
      const result = await manager.callTool("web__add", { a: i, b: i }, { signal: signal() });
      expect(result.content).toEqual([{ type: "text", text: String(2 * i) }]);
    }
    expect(a.calls.length + b.calls.length).toBe(20);
    expect(a.calls.length).toBeGreaterThan(0);
    expect(b.calls.length).toBeGreaterThan(0);
  });
});
