import { afterEach, describe, expect, it } from "vitest";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const baseConfig = {
  mcpEndpoint: ["cloud:a", "cloud:b"],
  mcpServers: { calc: { command: process.execPath, args: [calcFixture] } },
  mcpServerConfig: { calc: { tools: { secret: { enable: false } } } },
  modelscope: { apiKey: "kept-as-is" },
};

describe("HTTP routes against a simulated Xiaozhi cloud", () => {
  it("lists endpoints masked, with the contract's fields", async () => {
    stack = await Stack.start(baseConfig);
    await stack?.until(
      () => stack?.adapter.endpoints().every((e) => e.initialized) ?? false,
      5000,
      "initialized",
    );
    const { status, body } = await stack.api("GET", "/api/endpoints");
    expect(status).toBe(200);
    expect(body.endpoints).toHaveLength(2);
    for (const endpoint of body.endpoints) {
      expect(endpoint).toMatchObject({ state: "connected", connected: true, initialized: true });
      expect(endpoint.id).toMatch(/^ep-[0-9a-f]{12}$/);
      expect(endpoint.url).toMatch(/token=<masked:[0-9a-f]{6}>/);
      for (const field of ["lastConnected", "reconnectAttempts", "healthScore"])
        expect(endpoint).toHaveProperty(field);
    }
  });

  it("pages the endpoints with a summary of all, filtered by state or text", async () => {
    stack = await Stack.start({ ...baseConfig, mcpEndpoint: ["cloud:a", "cloud:b", "cloud:c"] });
    await stack.until(() => stack?.adapter.endpoints().every((e) => e.connected) ?? false, 5000, "up");
    const ids = stack.adapter.endpoints().map((e) => e.id);
    const page = await stack.api("GET", "/api/endpoints?offset=1&limit=1");
    expect(page.status).toBe(200);
    expect(page.body.endpoints.map((e: { id: string }) => e.id)).toEqual([ids[1]]);
    expect(page.body).toMatchObject({
      total: 3,
      offset: 1,
      limit: 1,
      summary: { total: 3, connected: 3, states: { connected: 3 } },
    });
    const none = await stack.api("GET", "/api/endpoints?state=failed");
    expect(none.body).toMatchObject({ endpoints: [], total: 0, summary: { total: 3 } });
    const one = await stack.api("GET", `/api/endpoints?q=${ids[2]}`);
    expect(one.body.endpoints.map((e: { id: string }) => e.id)).toEqual([ids[2]]);
    const bad = await stack.api("GET", "/api/endpoints?limit=5000");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/limit/) });
  });

  it("adds an endpoint over HTTP: connected, listed, saved; the others' sockets untouched", async () => {
    stack = await Stack.start(baseConfig);
    // The save's own watch event: the file is checked, found unchanged, and nothing reloads.
    const check = stack.nextCheck();
    const before = { a: stack.cloud.sessions(token("a"))[0], b: stack.cloud.sessions(token("b"))[0] };
    const upgrades = { a: stack.cloud.upgrades.get(token("a")), b: stack.cloud.upgrades.get(token("b")) };

    const added = await stack.api("POST", "/api/endpoints", { url: stack.url("c") });
    expect(added.status).toBe(201);
    expect(added.body.endpoint).toMatchObject({ id: stack.idOf("c"), state: "connected" });
    await stack.cloud.waitForSession(token("c"));
    const listed = await stack.api("GET", "/api/endpoints");
    expect(listed.body.endpoints.map((e: { id: string }) => e.id)).toContain(stack.idOf("c"));
    const saved = stack.readConfig();
    expect(saved.mcpEndpoint).toEqual([stack.url("a"), stack.url("b"), stack.url("c")]);
    expect(saved.modelscope).toEqual({ apiKey: "kept-as-is" });

    expect(stack.cloud.sessions(token("a"))[0]).toBe(before.a);
    expect(stack.cloud.sessions(token("b"))[0]).toBe(before.b);
    expect(stack.cloud.upgrades.get(token("a"))).toBe(upgrades.a);
    expect(stack.cloud.upgrades.get(token("b"))).toBe(upgrades.b);
    // The save itself must not cause a reload that touches anything.
    expect(await check).toBe(false);
    expect(stack.logs.some((line) => line.includes("config reloaded"))).toBe(false);
    expect(stack.adapter.endpoints().every((e) => e.reconnectAttempts === 0)).toBe(true);
    expect(stack.cloud.upgrades.get(token("c"))).toBe(1);
  });

  it("switches a tool off and on: written to mcpServerConfig, applied live, agents told", async () => {
    stack = await Stack.start(baseConfig);
    await stack.untilHeld("a", (held) => held?.includes("calc__add") === true);
    const off = await stack.api("PATCH", "/api/tools/calc__add", { enabled: false });
    expect(off).toMatchObject({ status: 200, body: { tool: { name: "calc__add", enabled: false } } });
    await stack.untilHeld("a", (held) => held !== undefined && !held.includes("calc__add"), 8000);
    const session = stack.cloud.sessions(token("a"))[0];
    if (!session) throw new Error("no session");
    expect(stack.readConfig().mcpServerConfig).toEqual({
      calc: { tools: { secret: { enable: false }, add: { enable: false } } },
    });
    expect(await session.callTool("calc__add", { a: 1, b: 2 })).toMatchObject({ isError: true });
    const on = await stack.api("PATCH", "/api/tools/calc__add", { enabled: true });
    expect(on.body.tool.enabled).toBe(true);
    await stack.untilHeld("a", (held) => held?.includes("calc__add") === true, 8000);
    expect(await stack.api("PATCH", "/api/tools/calc__nope", { enabled: false })).toMatchObject({
      status: 404,
      body: { error: { code: "UNKNOWN_TOOL" } },
    });
    expect((await stack.api("PATCH", "/api/tools/calc__add", { enabled: "no" })).status).toBe(400);
  });

  it("deletes an endpoint: closed with 1000, gone from the file, the others untouched", async () => {
    stack = await Stack.start(baseConfig);
    const victim = await stack.cloud.waitForSession(token("a"));
    const other = await stack.cloud.waitForSession(token("b"));
    const removed = await stack.api("DELETE", `/api/endpoints/${stack.idOf("a")}`);
    expect(removed.status).toBe(204);
    expect(await victim.closed).toMatchObject({ code: 1000 });
    expect(stack.readConfig().mcpEndpoint).toEqual([stack.url("b")]);
    expect(other.open).toBe(true);
    expect(stack.cloud.upgrades.get(token("b"))).toBe(1);
    expect(
      (await stack.api("GET", "/api/endpoints")).body.endpoints.map((e: { id: string }) => e.id),
    ).toEqual([stack.idOf("b")]);
    expect(await stack.api("DELETE", `/api/endpoints/${stack.idOf("a")}`)).toMatchObject({
      status: 404,
      body: { error: { code: "UNKNOWN_ENDPOINT" } },
    });
  });

  it("answers bad requests with the right status and {error:{code,message}}", async () => {
    stack = await Stack.start(baseConfig);
    const cases: [unknown, number, string][] = [
      [{ url: "<请填写你的接入点地址>" }, 400, "INVALID_ENDPOINT"],
      [{ url: "https://example.com/mcp?token=abc" }, 400, "INVALID_ENDPOINT"],
      [{ url: 42 }, 400, "BAD_REQUEST"],
      [{ url: stack.url("a") }, 409, "DUPLICATE_ENDPOINT"],
      // The same token with its letters escaped is the same endpoint.
      [{ url: stack.url("a").replace("tok-", "%74ok%2D") }, 409, "DUPLICATE_ENDPOINT"],
    ];
    for (const [body, status, code] of cases) {
      const response = await stack.api("POST", "/api/endpoints", body);
      expect(response.status, JSON.stringify(body)).toBe(status);
      expect(response.body.error.code).toBe(code);
      expect(typeof response.body.error.message).toBe("string");
    }
    const raw = await fetch(`${stack.base}/api/endpoints`, { method: "POST", body: "{" });
    expect(raw.status).toBe(415);
    const broken = await fetch(`${stack.base}/api/endpoints`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(broken.status).toBe(400);
    expect((await stack.api("GET", "/nope")).status).toBe(404);
    expect((await stack.api("POST", `/api/endpoints/ep-000000000000/reconnect`)).status).toBe(404);
    // The config file is unchanged by all of it.
    expect(stack.readConfig().mcpEndpoint).toHaveLength(2);
  });

  it("reconnects one endpoint on request (202) and reports tools, status, metrics, healthz", async () => {
    stack = await Stack.start(baseConfig);
    const first = await stack.cloud.waitForSession(token("b"));
    const accepted = await stack.api("POST", `/api/endpoints/${stack.idOf("b")}/reconnect`);
    expect(accepted.status).toBe(202);
    await first.closed;
    await stack?.until(() => stack?.cloud.upgrades.get(token("b")) === 2, 5000, "reconnected");

    const tools = await stack.api("GET", "/api/tools");
    expect(tools.body.tools).toContainEqual({
      name: "calc__add",
      description: "a + b",
      service: "calc",
      enabled: true,
    });
    expect(tools.body.tools).toContainEqual(
      expect.objectContaining({ name: "calc__secret", enabled: false }),
    );

    const status = await stack.api("GET", "/api/status");
    expect(status.body).toMatchObject({
      version: expect.any(String),
      startedAt: expect.any(Number),
      config: { path: stack.path, loadedAt: expect.any(Number), lastError: null },
      endpoints: { total: 2 },
    });
    const metrics = await fetch(`${stack.base}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    stack.responses.push(text);
    expect(text).toMatch(
      new RegExp(`xiaozhi_endpoint_up\\{endpoint="${stack.idOf("a")}",name="127.0.0.1"\\} 1`),
    );
    expect(text).toMatch(/xiaozhi_tools \d+/);
    expect(text).toMatch(
      new RegExp(`xiaozhi_endpoint_connects_total\\{endpoint="${stack.idOf("b")}",name="127.0.0.1"\\} 2`),
    );
    expect((await stack.api("GET", "/healthz")).status).toBe(200);
  });

  it("streams status changes as server-sent events", async () => {
    stack = await Stack.start(baseConfig);
    const controller = new AbortController();
    const response = await fetch(`${stack.base}/api/events`, { signal: controller.signal });
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let received = "";
    const read = async (pattern: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!pattern.test(received)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in ${received.slice(0, 500)}`);
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        received += decoder.decode(value);
      }
    };
    await read(/event: snapshot\ndata: .*"endpoints"/);
    stack.cloud.close(token("a"), 4004);
    const a = stack.idOf("a");
    await read(new RegExp(`event: endpoint\\ndata: \\{"id":"${a}".*"state":"reconnecting"`));
    await read(new RegExp(`event: endpoint\\ndata: \\{"id":"${a}".*"state":"connected"`));
    controller.abort();
    stack.responses.push(received);
    // One event per change of the status, not one per manager event that told of it: the drop
    // and the reconnect it schedules are one change.
    const shown = [...received.matchAll(/event: endpoint\ndata: (.*)\n\n/g)]
      .map((m) => JSON.parse(m[1] as string) as { id: string; state: string })
      .filter((status) => status.id === a);
    const text = shown.map((status) => JSON.stringify(status));
    for (let i = 1; i < text.length; i++) expect(text[i]).not.toBe(text[i - 1]);
    expect(shown.map((status) => status.state).slice(0, 3)).toEqual([
      "reconnecting",
      "connecting",
      "connected",
    ]);
  });
});

describe("bearer guard and origin check", () => {
  const secret = "a-long-enough-api-token-1234";

  it("requires the token on mutating routes and the event stream, not on reads", async () => {
    stack = await Stack.start(baseConfig, { authToken: secret });
    expect((await stack.api("GET", "/api/endpoints")).status).toBe(200);
    const denied = await stack.api("POST", "/api/endpoints", { url: stack.url("c") });
    expect(denied).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } });
    expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(
      (await stack.api("POST", "/api/endpoints", { url: stack.url("c") }, { authorization: "Bearer wrong" }))
        .status,
    ).toBe(401);
    expect((await stack.api("GET", "/api/events")).status).toBe(401);
    expect((await stack.api("DELETE", `/api/endpoints/${stack.idOf("a")}`)).status).toBe(401);
    const allowed = await stack.api(
      "POST",
      "/api/endpoints",
      { url: stack.url("c") },
      { authorization: `Bearer ${secret}` },
    );
    expect(allowed.status).toBe(201);
    expect(stack.logs.join("\n")).not.toContain(secret);
  });

  it("refuses mutating requests from another origin", async () => {
    stack = await Stack.start(baseConfig);
    const response = await stack.api("DELETE", `/api/endpoints/${stack.idOf("a")}`, undefined, {
      origin: "https://evil.example",
    });
    expect(response).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN_ORIGIN" } } });
    expect(stack.adapter.endpoints()).toHaveLength(2);
  });
});
