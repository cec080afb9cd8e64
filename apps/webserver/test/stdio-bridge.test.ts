import { PassThrough } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { bridgeStdio } from "../src/stdio-bridge.js";
import { startWebServer, type WebServer } from "../src/web-server.js";
import { demoTools } from "./run-server.js";

// The bridge `xiaozhi-connect stdio` runs, in this process: a client writes MCP lines to its
// input and reads its output, as Claude Desktop does through a pipe; the server is a real one.
const token = "desktop-token-0123456789abcdefgh";
const servers: WebServer[] = [];

afterEach(async () => {
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
});

async function start(): Promise<WebServer> {
  const server = await startWebServer({
    config: {
      mcpEndpoint: [],
      mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
      clients: [{ name: "desktop", token }],
    },
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    version: "0.0.0-test",
  });
  servers.push(server);
  await server.adapter.servicesStarted;
  return server;
}

/** The client's end of a pipe pair: what it writes is the bridge's input, and the other way round. */
class PipeTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly #buffer = new ReadBuffer();
  constructor(
    private readonly toBridge: PassThrough,
    private readonly fromBridge: PassThrough,
  ) {}
  async start() {
    this.fromBridge.on("data", (chunk: Buffer) => {
      this.#buffer.append(chunk);
      for (let message = this.#buffer.readMessage(); message; message = this.#buffer.readMessage()) {
        this.onmessage?.(message);
      }
    });
  }
  async send(message: JSONRPCMessage) {
    this.toBridge.write(serializeMessage(message));
  }
  async close() {
    this.toBridge.end();
    this.onclose?.();
  }
}

function pipe(address: () => URL | undefined, secret = token) {
  const input = new PassThrough();
  const output = new PassThrough();
  const reports: string[] = [];
  const running = bridgeStdio({
    address,
    token: secret,
    input,
    output,
    report: (line) => reports.push(line),
  });
  return { running, reports, transport: new PipeTransport(input, output) };
}

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe("the stdio bridge", () => {
  it("relays a client to /mcp, and carries on at the new address when the server restarts", async () => {
    let server = await start();
    const { running, transport } = pipe(() => new URL("mcp", server.url));
    const client = new Client({ name: "desktop", version: "1.0.0" });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      "demo__calculator",
      "demo__clock",
    ]);
    const add = (a: number, b: number) =>
      client.callTool({ name: "demo__calculator", arguments: { a, b, op: "add" } }).then(text);
    expect(await add(1, 2)).toBe("3");

    const before = server.url;
    await server.close();
    server = await start();
    expect(server.url).not.toBe(before);
    expect(await add(2, 3)).toBe("5");

    await client.close();
    await running;
  });

  it("answers a request the server refuses with an error, so the client does not wait for ever", async () => {
    const server = await start();
    const { running, reports, transport } = pipe(
      () => new URL("mcp", server.url),
      "not-a-client-token-at-all-0123",
    );
    const client = new Client({ name: "desktop", version: "1.0.0" });
    await expect(client.connect(transport)).rejects.toThrow(/bearer token is required/);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/^xiaozhi-connect stdio: .*bearer token is required/);
    expect(reports.join("\n")).not.toContain("not-a-client-token-at-all-0123");
    await transport.close();
    await running;
  });

  it("says so when no server runs at all", async () => {
    const { running, reports, transport } = pipe(() => undefined);
    await expect(running).rejects.toThrow(/not running/);
    expect(reports).toEqual([]);
    await transport.close();
  });
});
