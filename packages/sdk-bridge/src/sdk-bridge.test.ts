import { readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ReadBuffer } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CallToolRequestSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import {
  childProcessOf,
  notificationDispatch,
  replaceReadBuffer,
  requestDispatch,
  setBaseRequestHandler,
} from "./sdk-bridge.js";

/** The installed SDK's package.json: the release this contract is checked against. */
function sdkPackage(): { version: string; path: string } {
  let dir = dirname(createRequire(import.meta.url).resolve("@modelcontextprotocol/sdk/types.js"));
  for (let depth = 0; depth < 6; depth++) {
    const path = join(dir, "package.json");
    try {
      const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version: string };
      if (pkg.name === "@modelcontextprotocol/sdk") return { version: pkg.version, path };
    } catch {
      // No package.json at this level: keep climbing.
    }
    dir = dirname(dir);
  }
  throw new Error("the MCP SDK's package.json was not found");
}

const sdk = sdkPackage().version;

/** What a failure says: which member moved, what the packages do meanwhile, and what to do. */
const broken = (member: string, meanwhile: string) =>
  `MCP SDK ${sdk} changed ${member}. Meanwhile ${meanwhile}. Update packages/sdk-bridge/src/sdk-bridge.ts for this release (or keep the SDK pinned), then this test.`;

/** A Server on a transport that keeps what the server sends; `deliver` hands it a message. */
async function serverOnTransport() {
  const server = new Server({ name: "contract", version: "1" }, { capabilities: { tools: {} } });
  const sent: JSONRPCMessage[] = [];
  const waiters: ((message: JSONRPCMessage) => void)[] = [];
  const transport: Transport = {
    start: async () => {},
    close: async () => {},
    send: async (message) => {
      sent.push(message);
      waiters.shift()?.(message);
    },
  };
  await server.connect(transport);
  const next = () => new Promise<JSONRPCMessage>((resolve) => waiters.push(resolve));
  return { server, transport, sent, next };
}

const call = (id: number) =>
  ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "t", arguments: {} } }) as const;

/** A child that writes one JSON-RPC line to stdout and waits for stdin to close. */
const oneLineChild = () =>
  new StdioClientTransport({
    command: process.execPath,
    args: [
      "-e",
      "process.stdout.write(JSON.stringify({jsonrpc:'2.0',method:'notifications/hello'})+'\\n'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0))",
    ],
    stderr: "pipe",
  });

describe(`the MCP SDK ${sdk}: the members it does not document, as the packages use them`, () => {
  it("Protocol#setRequestHandler on a Server registers a tools/call handler without the Server's result check", async () => {
    const { server, transport, next } = await serverOnTransport();
    // Not a valid CallToolResult: the Server's own registration would answer -32602 instead.
    const unchecked = { content: "passed through as it is" };
    expect(setBaseRequestHandler(server, CallToolRequestSchema, () => unchecked as never)).toBe(true);
    const answer = next();
    transport.onmessage?.(call(1));
    expect(
      await answer,
      broken(
        "how Server#setRequestHandler wraps tools/call, or what Protocol#setRequestHandler registers",
        "each tools/call is parsed twice and its result once more",
      ),
    ).toEqual({ jsonrpc: "2.0", id: 1, result: unchecked });
  });

  it("Protocol#_onnotification dispatches one notification as the transport's message handler would", async () => {
    const { server } = await serverOnTransport();
    const dispatch = notificationDispatch(server);
    expect(
      dispatch,
      broken("Protocol#_onnotification", "each notification goes through all the SDK's message guards first"),
    ).toBeTypeOf("function");
    // The Server's own handler of `notifications/initialized` calls `oninitialized`; an unknown
    // notification is ignored, as the message handler ignores it.
    const initialized = new Promise<void>((resolve) => {
      server.oninitialized = resolve;
    });
    dispatch?.({ jsonrpc: "2.0", method: "notifications/unknown" });
    dispatch?.({ jsonrpc: "2.0", method: "notifications/initialized" });
    await expect(
      Promise.race([
        initialized.then(() => "initialized"),
        new Promise((resolve) => setImmediate(() => setImmediate(() => resolve("not dispatched")))),
      ]),
      broken("what Protocol#_onnotification does", "notifications take the transport's message handler"),
    ).resolves.toBe("initialized");
  });

  it("Protocol#_onrequest dispatches one request as the transport's message handler would", async () => {
    const { server, next } = await serverOnTransport();
    setBaseRequestHandler(server, CallToolRequestSchema, () => ({
      content: [{ type: "text", text: "ran" }],
    }));
    const dispatch = requestDispatch(server);
    expect(
      dispatch,
      broken("Protocol#_onrequest", "each request goes through all the SDK's message guards first"),
    ).toBeTypeOf("function");
    const answers = Promise.all([next(), next(), next()]);
    dispatch?.(call(2));
    dispatch?.({ jsonrpc: "2.0", id: 3, method: "ping" });
    dispatch?.({ jsonrpc: "2.0", id: 4, method: "resources/list" });
    const byId = (await answers).sort(
      (a, b) => Number((a as { id: number }).id) - Number((b as { id: number }).id),
    );
    expect(
      byId,
      broken("what Protocol#_onrequest does", "requests take the transport's message handler"),
    ).toEqual([
      { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "ran" }] } },
      { jsonrpc: "2.0", id: 3, result: {} },
      { jsonrpc: "2.0", id: 4, error: { code: -32601, message: "Method not found" } },
    ]);
  });

  it("StdioClientTransport#_readBuffer is the reader of the child's stdout", async () => {
    const transport = oneLineChild();
    const sdkBuffer = new ReadBuffer();
    const chunks: Buffer[] = [];
    const replaced = replaceReadBuffer(transport, {
      append: (chunk: Buffer) => {
        chunks.push(chunk);
        sdkBuffer.append(chunk);
      },
      readMessage: () => sdkBuffer.readMessage(),
      clear: () => sdkBuffer.clear(),
    });
    const meanwhile =
      "stdio services are read through the SDK's buffer: bounded by maxBufferSize, quadratic on one long line";
    expect(replaced, broken("StdioClientTransport#_readBuffer", meanwhile)).toBe(true);
    const message = new Promise<JSONRPCMessage>((resolve) => {
      transport.onmessage = resolve;
    });
    await transport.start();
    try {
      expect(await message).toEqual({ jsonrpc: "2.0", method: "notifications/hello" });
      expect(chunks.length, broken("how StdioClientTransport reads stdout", meanwhile)).toBeGreaterThan(0);
    } finally {
      await transport.close();
    }
  });

  it("StdioClientTransport#_process is the child process the transport runs", async () => {
    const transport = oneLineChild();
    expect(childProcessOf(transport)).toBeUndefined();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    await transport.start();
    const child = childProcessOf(transport);
    const meanwhile =
      "a write to a dead service settles instead of failing SEND_FAILED (no failover for it), a second signal ends services by pid, and a crash is reported without its exit code";
    expect(child, broken("StdioClientTransport#_process", meanwhile)).toBeDefined();
    expect(child?.pid).toBe(transport.pid);
    expect(child?.stdin?.writable, broken("the child's stdin", meanwhile)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    await transport.close();
    await closed;
    expect(await exited).toBe(0);
    expect(childProcessOf(transport)).toBeUndefined();
  });

  it("is the copy every package of this repository depends on", () => {
    const root = join(import.meta.dirname, "..", "..", "..");
    const dirs = ["packages/transport-ws", "packages/mcp-services", "packages/sdk-bridge", "apps/webserver"];
    const pinned = dirs.map((dir) => {
      const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
      };
      return [dir, pkg.dependencies?.["@modelcontextprotocol/sdk"]];
    });
    // One version everywhere, so the members checked above are those every package runs with.
    expect(pinned).toEqual(pinned.map(([dir]) => [dir, sdk]));
    // And one installed copy: two would load the SDK twice (memory, start-up time).
    const copies = new Set(
      dirs.map((dir) =>
        realpathSync(
          dirname(
            createRequire(join(root, dir, "package.json")).resolve("@modelcontextprotocol/sdk/types.js"),
          ),
        ),
      ),
    );
    expect([...copies]).toHaveLength(1);
  });
});

describe("the fallbacks, for an SDK whose members moved", () => {
  it("registers through the Server itself when it is no Protocol", () => {
    const registered: unknown[] = [];
    const notAProtocol = { setRequestHandler: (schema: unknown) => registered.push(schema) };
    const used = setBaseRequestHandler(notAProtocol as unknown as Server, CallToolRequestSchema, () => ({
      content: [],
    }));
    expect(used).toBe(false);
    expect(registered).toEqual([CallToolRequestSchema]);
  });

  it("finds the base registration of a Server from another copy of the SDK by its shape", () => {
    // Another copy's classes are other objects: what counts is the chain, not this copy's Protocol.
    const registered: string[] = [];
    class OtherProtocol {
      setRequestHandler(): void {
        registered.push("base");
      }
      _onrequest(): void {}
    }
    class OtherServer extends OtherProtocol {
      override setRequestHandler(): void {
        registered.push("server");
      }
    }
    const server = new OtherServer() as unknown as Server;
    expect(setBaseRequestHandler(server, CallToolRequestSchema, () => ({ content: [] }))).toBe(true);
    expect(registered).toEqual(["base"]);
  });

  it("offers no dispatch, no buffer slot and no child where the members are missing", () => {
    const bare = {} as unknown as Server & StdioClientTransport;
    expect(requestDispatch(bare)).toBeUndefined();
    const buffer = { append: () => {}, readMessage: () => null, clear: () => {} };
    expect(replaceReadBuffer(bare, buffer)).toBe(false);
    expect((bare as unknown as { _readBuffer?: unknown })._readBuffer).toBeUndefined();
    expect(childProcessOf(bare)).toBeUndefined();
    // A process that is not the one the public pid names is not taken for it.
    const stranger = { _process: { pid: 1, once: () => {} }, pid: 2 } as unknown as StdioClientTransport;
    expect(childProcessOf(stranger)).toBeUndefined();
  });
});
