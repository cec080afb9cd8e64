import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { createLogger } from "@xiaozhi-connect/webserver-adapter";
import { afterEach, describe, expect, it } from "vitest";
import { startWebServer, type WebServer } from "../src/web-server.js";

const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;
let cloud: SimulatedXiaozhiCloud | undefined;
let server: WebServer | undefined;
let logs: string[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  await cloud?.stop();
  cloud = undefined;
  expect(logs.join("\n")).not.toMatch(/tok-secret/);
  logs = [];
});

async function start(config: Record<string, unknown>, options: { allowedHosts?: string[] } = {}) {
  cloud = await SimulatedXiaozhiCloud.start();
  const dir = mkdtempSync(join(tmpdir(), "xz-edges-"));
  const path = join(dir, "xiaozhi.config.json");
  writeFileSync(path, JSON.stringify(config, null, 2));
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => logs.push(line) } });
  server = await startWebServer({
    configPath: path,
    host: "127.0.0.1",
    port: 0,
    logger,
    version: "test",
    ...options,
  });
  const port = Number(new URL(server.url).port);
  const readEndpoints = () => (JSON.parse(readFileSync(path, "utf8")).mcpEndpoint ?? []) as string[];
  return {
    path,
    port,
    readEndpoints,
    url: (name: string) => (cloud as SimulatedXiaozhiCloud).endpointUrl(token(name)),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: bodies are checked by each test
  body: any;
}

/** One HTTP request with full control of the headers (Host included), on loopback. */
function call(
  port: number,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        headers: {
          ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          // The event stream never ends: its first bytes are enough.
          if (String(res.headers["content-type"]).includes("event-stream")) res.destroy();
        });
        const done = () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          if (String(res.headers["content-type"]).includes("json")) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        };
        res.on("end", done);
        res.on("close", done);
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const json = (value: unknown) => JSON.stringify(value);

describe("the WebServer's edges against hostile and careless input", () => {
  it("refuses requests addressed to another host name (DNS rebinding), on every route", async () => {
    const s = await start({ mcpEndpoint: [] }, { allowedHosts: ["xiaozhi.lan"] });
    const evil = { host: `evil.example:${s.port}`, origin: `http://evil.example:${s.port}` };
    const attempts: [string, string, string?][] = [
      ["POST", "/api/endpoints", json({ url: s.url("attacker") })],
      ["GET", "/api/events"],
      ["GET", "/api/endpoints"],
      ["GET", "/"],
      ["DELETE", "/api/endpoints/ep-000000000000"],
      ["GET", "/nowhere"],
      ["POST", "/mcp", json({ jsonrpc: "2.0", id: 1, method: "tools/list" })],
      ["GET", "/mcp"],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await call(s.port, method, path, { headers: evil, ...(body ? { body } : {}) });
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 403 });
      expect(answer.body.error.code).toBe("FORBIDDEN_HOST");
    }
    expect(s.readEndpoints()).toEqual([]);
    expect(cloud?.upgrades.get(token("attacker"))).toBeUndefined();
    for (const host of [
      `127.0.0.1:${s.port}`,
      `localhost:${s.port}`,
      `LOCALHOST:${s.port}`,
      `[::1]:${s.port}`,
      `xiaozhi.lan:${s.port}`,
    ]) {
      const answer = await call(s.port, "GET", "/api/status", { headers: { host } });
      expect({ host, status: answer.status }).toEqual({ host, status: 200 });
    }
  });

  it("takes exactly one of 50 concurrent adds of one URL, and keeps file and API in agreement under interleaved adds and deletes", async () => {
    const s = await start({ mcpEndpoint: [] });
    const url = s.url("same");
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call(s.port, "POST", "/api/endpoints", { body: json({ url }) })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(49);
    expect(s.readEndpoints()).toEqual([url]);
    expect(cloud?.sessions(token("same"))).toHaveLength(1);

    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    await Promise.all(
      names.map((n) => call(s.port, "POST", "/api/endpoints", { body: json({ url: s.url(n) }) })),
    );
    const mixed = await Promise.all(
      names.flatMap((n, i) => [
        call(s.port, "DELETE", `/api/endpoints/${endpointId(s.url(n))}`),
        call(s.port, "POST", "/api/endpoints", { body: json({ url: s.url(`m${i}`) }) }),
      ]),
    );
    expect(mixed.map((a) => a.status).sort()).toEqual(
      [...Array(20).fill(201), ...Array(20).fill(204)].sort(),
    );
    const listed = (await call(s.port, "GET", "/api/endpoints")).body.endpoints.map(
      (e: { id: string }) => e.id,
    );
    const inFile = s.readEndpoints().map((u) => endpointId(u));
    expect([...listed].sort()).toEqual([...inFile].sort());
    expect(new Set(inFile).size).toBe(inFile.length);
    expect(inFile).toHaveLength(21);
  });

  it("gives one endpoint one identity however its URL is spelled", async () => {
    const s = await start({ mcpEndpoint: [] });
    const url = s.url("one");
    expect((await call(s.port, "POST", "/api/endpoints", { body: json({ url }) })).status).toBe(201);
    const spellings = [
      url.replace("ws://", "WS://"),
      url.replace("?token=", "?&token="),
      `  ${url}&`,
      `${url}#fragment`,
    ];
    for (const spelling of spellings) {
      const answer = await call(s.port, "POST", "/api/endpoints", { body: json({ url: spelling }) });
      expect({ spelling: spelling.length, status: answer.status, code: answer.body.error?.code }).toEqual({
        spelling: spelling.length,
        status: 409,
        code: "DUPLICATE_ENDPOINT",
      });
    }
    // A tab or line break inside is refused outright rather than silently read as another spelling.
    for (const bad of [url.replace("token", "to\tken"), `${url}\r\nX-Injected: 1`]) {
      const answer = await call(s.port, "POST", "/api/endpoints", { body: json({ url: bad }) });
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toMatch(/control characters/);
    }
    expect(cloud?.upgrades.get(token("one"))).toBe(1);
    expect(s.readEndpoints()).toHaveLength(1);
  });

  it("bounds bodies and URLs, answering 413 and 400 as JSON and saving nothing", async () => {
    const s = await start({ mcpEndpoint: [] });
    const before = readFileSync(s.path, "utf8");
    const huge = json({ url: `${s.url("big")}${"x".repeat(10 * 1024 * 1024)}` });
    const tooBig = await call(s.port, "POST", "/api/endpoints", { body: huge });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    const chunked = await call(s.port, "POST", "/api/endpoints", {
      body: huge,
      headers: { "transfer-encoding": "chunked" },
    });
    expect(chunked.status).toBe(413);
    const long = await call(s.port, "POST", "/api/endpoints", {
      body: json({ url: `${s.url("long")}${"x".repeat(3000)}` }),
    });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/longer than 2048 characters/);
    expect(readFileSync(s.path, "utf8")).toBe(before);
  });

  it("keeps a pooled connection usable after a refused body: the next request on it succeeds", async () => {
    const s = await start({
      mcpEndpoint: [],
      clients: [{ name: "ed", token: "editor-token-0123456789abcdef" }],
    });
    // One connection, reused: what browsers and undici do with keep-alive.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; connection?: string }>((resolve, reject) => {
          const req = request(
            {
              host: "127.0.0.1",
              port: s.port,
              method,
              path,
              agent,
              headers: { "content-type": "application/json", ...headers },
            },
            (res) => {
              res.resume();
              res.on("end", () =>
                resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
              );
            },
          );
          req.on("error", reject);
          req.end(body);
        });
      for (const [path, headers] of [
        ["/api/endpoints", {}],
        [
          "/mcp",
          {
            authorization: "Bearer editor-token-0123456789abcdef",
            accept: "application/json, text/event-stream",
          },
        ],
      ] as const) {
        const refused = await send("POST", path, json({ url: "x".repeat(2 * 1024 * 1024) }), headers);
        expect({ path, status: refused.status }).toEqual({ path, status: 413 });
        expect({ path, connection: refused.connection }).toEqual({ path, connection: "close" });
        const next = await send("GET", "/api/status");
        expect(next.status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });

  it("answers unknown routes with JSON 404 and wrong methods with JSON 405 and Allow", async () => {
    const s = await start({ mcpEndpoint: [] });
    const missing = await call(s.port, "GET", "/api/nothing");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toMatch(/application\/json/);
    expect(missing.body.error.code).toBe("NOT_FOUND");
    for (const [method, path, allow] of [
      ["PUT", "/api/endpoints", /GET.*POST|POST.*GET/],
      ["DELETE", "/", /GET/],
      ["POST", "/api/status", /GET/],
      ["GET", "/api/endpoints/ep-1/reconnect", /POST/],
    ] as const) {
      const answer = await call(s.port, method, path);
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 405 });
      expect(answer.headers["content-type"]).toMatch(/application\/json/);
      expect(answer.body.error.code).toBe("METHOD_NOT_ALLOWED");
      expect(answer.headers.allow).toMatch(allow);
    }
  });

  it("answers a POST for an endpoint that is accepted and then closed 1008 with state failed, not connected", async () => {
    const s = await start({ mcpEndpoint: [] });
    cloud?.configure(token("refused"), { closeAfterAccept: 1008 });
    const added = await call(s.port, "POST", "/api/endpoints", { body: json({ url: s.url("refused") }) });
    expect(added.status).toBe(201);
    expect(added.body.endpoint).toMatchObject({ state: "failed", connected: false });
    expect(added.body.endpoint.lastError).toMatch(/1008/);
    expect(cloud?.upgrades.get(token("refused"))).toBe(1);
  });

  it("recreates a deleted config file on the next change instead of failing with ENOENT", async () => {
    const s = await start({ mcpEndpoint: [] });
    await call(s.port, "POST", "/api/endpoints", { body: json({ url: s.url("a") }) });
    await call(s.port, "POST", "/api/endpoints", { body: json({ url: s.url("b") }) });
    await rm(s.path);
    const removed = await call(s.port, "DELETE", `/api/endpoints/${endpointId(s.url("a"))}`);
    expect(removed.status).toBe(204);
    expect(s.readEndpoints()).toEqual([s.url("b")]);
    const listed = (await call(s.port, "GET", "/api/endpoints")).body.endpoints.map(
      (e: { id: string }) => e.id,
    );
    expect(listed).toEqual([endpointId(s.url("b"))]);
  });
});
