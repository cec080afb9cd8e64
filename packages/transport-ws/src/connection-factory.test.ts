import {
  ConnectionManager,
  type EndpointInput,
  emptyToolSource,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  XiaozhiConnectionManager,
  type XiaozhiConnectionManagerOptions,
  type XiaozhiTransportOptions,
  xiaozhiConnectionFactory,
} from "./connection-factory.js";

/** The error `run` throws; fails the test when it throws none. */
function thrownBy(run: () => unknown): XiaozhiError {
  try {
    run();
  } catch (error) {
    if (XiaozhiError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected an XiaozhiError, nothing was thrown");
}

/** The error `promise` rejects with; fails the test when it resolves. */
function rejectionOf(promise: Promise<unknown>): Promise<XiaozhiError> {
  return promise.then(
    () => {
      throw new Error("expected an XiaozhiError, the promise resolved");
    },
    (error: unknown) => {
      if (XiaozhiError.isInstance(error)) return error;
      throw error;
    },
  );
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function manager(options: XiaozhiConnectionManagerOptions = {}): XiaozhiConnectionManager {
  const made = new XiaozhiConnectionManager(options);
  cleanups.push(() => made.cleanup());
  return made;
}

const token = "secret-token-1";
const valid = `wss://cloud.test/mcp/?token=${token}`;
const notWebSocket = "endpoint URL is not a ws:// or wss:// URL";

/** A source with one tool, to tell whether a manager took it. */
const oneTool: ToolSource = {
  ...emptyToolSource,
  listTools: () => [{ name: "calc__add", inputSchema: { type: "object" } }],
};

describe("xiaozhiConnectionFactory options", () => {
  const refused: [string, XiaozhiTransportOptions, string][] = [
    [
      "heartbeatInterval -1",
      { heartbeatInterval: -1 },
      "heartbeatInterval must be a finite number of ms above 0, got -1",
    ],
    [
      "heartbeatInterval NaN",
      { heartbeatInterval: Number.NaN },
      "heartbeatInterval must be a finite number of ms above 0, got NaN",
    ],
    [
      "heartbeatTimeout 0",
      { heartbeatTimeout: 0 },
      "heartbeatTimeout must be a finite number of ms above 0, got 0",
    ],
    ["callTimeout NaN", { callTimeout: Number.NaN }, "callTimeout must be a number of ms above 0"],
    ["callTimeout 0", { callTimeout: 0 }, "callTimeout must be a number of ms above 0"],
    ["maxPayload 1.5", { maxPayload: 1.5 }, "maxPayload must be a whole number of bytes above 0, got 1.5"],
    [
      "closeTimeout -1",
      { closeTimeout: -1 },
      "closeTimeout must be a finite number of ms, 0 or more, got -1",
    ],
    ["readyGrace NaN", { readyGrace: Number.NaN }, "readyGrace must be"],
    [
      "serverInfo without a version",
      { serverInfo: { name: "x" } as never },
      "serverInfo must be { name, version } of two strings, got an object",
    ],
    [
      "toolsChanged unknown",
      { toolsChanged: "sometimes" as never },
      'toolsChanged must be "auto", "notify" or "reconnect", got "sometimes"',
    ],
    ["relistGrace Infinity", { relistGrace: Number.POSITIVE_INFINITY }, "relistGrace must be"],
    [
      "republishInterval 0",
      { republishInterval: 0 },
      "republishInterval must be a finite number of ms above 0, got 0",
    ],
    ["drainTimeout NaN", { drainTimeout: Number.NaN }, "drainTimeout must be"],
    ["toolsWait -1", { toolsWait: -1 }, "toolsWait must be"],
    [
      "maxResultBytes 100",
      { maxResultBytes: 100 },
      "maxResultBytes must be 0 (no limit) or a whole number of bytes, 512 or more, got 100",
    ],
    ["maxResultBytes -1", { maxResultBytes: -1 }, "got -1"],
  ];
  it.each(refused)("refuses %s when made", (_, options, message) => {
    const error = thrownBy(() => xiaozhiConnectionFactory(options));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toContain(message);
  });

  it("refuses the same in configure, changing nothing", () => {
    const factory = xiaozhiConnectionFactory({ heartbeatInterval: 1000 });
    cleanups.push(() => factory.dispose());
    const error = thrownBy(() => factory.configure({ heartbeatInterval: 2000, callTimeout: Number.NaN }));
    expect(error).toMatchObject({ code: "INVALID_CONFIG", message: expect.stringContaining("callTimeout") });
    expect(factory.heartbeat.options.interval).toBe(1000);
    factory.configure({ heartbeatInterval: 2000 });
    expect(factory.heartbeat.options.interval).toBe(2000);
  });

  it("accepts the edge values that mean something", () => {
    const factory = xiaozhiConnectionFactory({
      closeTimeout: 0,
      readyGrace: 0,
      relistGrace: 0,
      drainTimeout: 0,
      toolsWait: 0,
      maxResultBytes: 0,
      callTimeout: Number.POSITIVE_INFINITY,
      heartbeatInterval: 1,
      heartbeatTimeout: 1,
    });
    cleanups.push(() => factory.dispose());
    factory.configure({
      maxResultBytes: 512,
      toolsChanged: "notify",
      serverInfo: { name: "n", version: "1" },
    });
    // Unknown settings, such as other factories' or the manager's, pass through untouched.
    factory.configure({ maxReconnectAttempts: Number.NaN } as XiaozhiTransportOptions);
    expect(factory.heartbeat.options).toEqual({ interval: 1, timeout: 1 });
  });
});

describe("XiaozhiConnectionManager settings", () => {
  it("refuses nonsense timings with INVALID_CONFIG naming the option and its value", () => {
    expect(thrownBy(() => manager({ connectTimeout: Number.NaN })).message).toBe(
      "connectTimeout must be a finite number of ms above 0, got NaN",
    );
    expect(thrownBy(() => manager({ connectTimeout: -1 })).code).toBe("INVALID_CONFIG");
    expect(
      thrownBy(() => manager({ backoff: { initialDelay: Number.NaN, maxDelay: Number.NaN } })).message,
    ).toContain("backoff.initialDelay");
    expect(thrownBy(() => manager({ panicThreshold: 5 })).message).toContain("panicThreshold");
    expect(thrownBy(() => manager({ transport: { heartbeatInterval: -1 } })).message).toContain(
      "heartbeatInterval",
    );
  });

  it("keeps taking everyday values: short backoffs, unlimited attempts, 0 for off", () => {
    const made = manager({
      backoff: { initialDelay: 50, maxDelay: 200 },
      connectTimeout: 10_000,
      maxReconnectAttempts: Number.POSITIVE_INFINITY,
      connectConcurrency: 0,
      recoveryWindow: 0,
      probeInterval: 0,
      transport: { heartbeatInterval: 5000, heartbeatTimeout: 5000, toolsWait: 0 },
    });
    expect(made.settings.maxReconnectAttempts).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("XiaozhiConnectionManager endpoints", () => {
  const refusedUrls = [
    `ftp://127.0.0.1:1/mcp/?token=${token}`,
    `http://127.0.0.1:1/mcp/?token=${token}`,
    `https://api.xiaozhi.me/mcp/?token=${token}`,
    `ws+unix:/tmp/socket?token=${token}`,
  ];

  it.each(refusedUrls)("addEndpoint refuses %s without naming its token", async (url) => {
    const made = manager();
    await made.connect();
    const error = await rejectionOf(made.addEndpoint(url));
    expect(error).toMatchObject({ code: "INVALID_ENDPOINT", message: notWebSocket, retryable: false });
    expect(error.message).not.toContain(token);
    expect(made.getConnectionStatus()).toEqual([]);
  });

  it("initialize refuses a list holding one, before it takes the list or the tool source", async () => {
    const made = manager();
    const error = await rejectionOf(
      made.initialize([valid, `ftp://127.0.0.1:1/mcp/?token=${token}`], oneTool),
    );
    expect(error).toMatchObject({ code: "INVALID_ENDPOINT", message: notWebSocket });
    expect(made.getConnectionStatus()).toEqual([]);
    expect(made.isInitialized).toBe(false);
    expect(await made.tools.listTools()).toEqual([]);
  });

  it("reconcile and apply refuse one, leaving the running list as it was", async () => {
    const made = manager();
    await made.initialize([valid]);
    const before = made.getConnectionStatus();
    const listed = { url: `http://cloud.test/mcp/?token=${token}`, name: "agent" } satisfies EndpointInput;
    expect((await rejectionOf(made.reconcile([listed]))).message).toBe(notWebSocket);
    expect(thrownBy(() => made.apply([valid, listed])).message).toBe(notWebSocket);
    expect(made.getConnectionStatus()).toEqual(before);
    expect(before).toHaveLength(1);
  });

  it("refuses an endpoint with no URL, which it could never dial", async () => {
    const made = manager();
    const error = await rejectionOf(made.addEndpoint({ id: "agent-1" }));
    expect(error).toMatchObject({ code: "INVALID_ENDPOINT", message: "a Xiaozhi endpoint needs a URL" });
  });

  it("takes ws:// and wss:// however their scheme is written, and reports core's refusals first", async () => {
    const made = manager();
    const result = await made.initialize(["WSS://Cloud.Test/mcp/?token=a", "ws://127.0.0.1:9/mcp/?token=b"]);
    expect(result.added).toHaveLength(2);
    expect((await rejectionOf(made.addEndpoint("not a url"))).message).toMatch(/not a valid URL/);
  });
});

describe("a plain ConnectionManager with the Xiaozhi factory", () => {
  it.each([`ftp://127.0.0.1:1/mcp/?token=${token}`, `http://127.0.0.1:1/mcp/?token=${token}`])(
    "ends %s failed at once instead of retrying it",
    async (url) => {
      const factory = xiaozhiConnectionFactory();
      const made = new ConnectionManager({ connectionFactory: factory });
      cleanups.push(() => factory.dispose());
      cleanups.push(() => made.cleanup());
      await made.connect();
      const status = await made.addEndpoint(url);
      expect(status).toMatchObject({ state: "failed", lastError: notWebSocket, reconnectAttempts: 0 });
      expect(status.nextReconnectAt).toBeUndefined();
      expect(status.lastError).not.toContain(token);
    },
  );
});
