import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { agentNameOf } from "../src/index.js";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

/** A token shaped like a Xiaozhi endpoint token: a JWT whose payload carries `agentId`. */
const jwt = (agentId: number) =>
  `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ userId: 7, agentId, endpointId: "x" })).toString("base64url")}.c2lnbmF0dXJl`;

const calc = { command: process.execPath, args: [calcFixture] };

describe("services managed over HTTP", () => {
  it("adds, edits, restarts and removes a service: written to mcpServers, applied live", async () => {
    stack = await Stack.start(
      `{
  // my agents
  "mcpEndpoint": ["cloud:a"],
  "mcpServers": {
    "calc": ${JSON.stringify(calc)}
  }
}
`,
    );
    const agent = await stack.cloud.waitForSession(token("a"));
    await agent.ready;

    const added = await stack.api("POST", "/api/services", {
      name: "calc2",
      config: { ...calc, env: { CALC_KEY: "tok-secret-env-value" } },
    });
    expect(added.status).toBe(201);
    expect(added.body.service).toMatchObject({
      name: "calc2",
      config: { type: "stdio", command: process.execPath, args: [calcFixture], env: ["CALC_KEY"] },
    });
    // The agent lists only at connect: what it holds is what reached it.
    await stack.untilHeld("a", (held) => held?.includes("calc2__add") === true, 10_000);
    const text = readFileSync(stack.path, "utf8");
    expect(text).toContain("// my agents");
    expect(JSON.parse(text.replace(/^\s*\/\/.*$/m, "")).mcpServers.calc2.env).toEqual({
      CALC_KEY: "tok-secret-env-value",
    });
    const listed = await stack.api("GET", "/api/services");
    expect(listed.body.services.map((s: { name: string }) => s.name)).toEqual(["calc", "calc2"]);
    expect(JSON.stringify(listed.body)).not.toContain("tok-secret-env-value");

    // An edit without env keeps the env the API never showed.
    const edited = await stack.api("PUT", "/api/services/calc2", { ...calc, args: [calcFixture, "--x"] });
    expect(edited.status).toBe(200);
    const saved = JSON.parse(readFileSync(stack.path, "utf8").replace(/^\s*\/\/.*$/m, ""));
    expect(saved.mcpServers.calc2).toEqual({
      ...calc,
      args: [calcFixture, "--x"],
      env: { CALC_KEY: "tok-secret-env-value" },
    });

    // A secret passed as an argument is shown masked, also after a flag that names it, and sent
    // back as shown it keeps the stored value.
    const secretArgs = [calcFixture, "--token", "tok-secret-arg-value", "--api-key=tok-secret-kv-value"];
    expect((await stack.api("PUT", "/api/services/calc2", { ...calc, args: secretArgs })).status).toBe(200);
    const shown = (await stack.api("GET", "/api/services")).body.services.find(
      (s: { name: string }) => s.name === "calc2",
    ).config;
    expect(JSON.stringify(shown)).not.toMatch(/tok-secret-(arg|kv)-value/);
    expect(shown.args.slice(0, 2)).toEqual([calcFixture, "--token"]);
    const { type: _, env: __, ...back } = shown;
    expect((await stack.api("PUT", "/api/services/calc2", back)).status).toBe(200);
    const kept = JSON.parse(readFileSync(stack.path, "utf8").replace(/^\s*\/\/.*$/m, ""));
    expect(kept.mcpServers.calc2.args).toEqual(secretArgs);

    await stack?.until(
      () => stack?.adapter.services().find((s) => s.name === "calc")?.state === "up",
      10_000,
      "up",
    );
    const restarted = await stack.api("POST", "/api/services/calc/restart");
    expect(restarted.status).toBe(202);
    await stack?.until(
      () => {
        const calcStatus = stack?.adapter.services().find((s) => s.name === "calc");
        return calcStatus?.restarts === 1 && calcStatus.state === "up";
      },
      10_000,
      "restarted and up",
    );
    expect(stack.adapter.services().find((s) => s.name === "calc")?.upSince).toEqual(expect.any(Number));

    expect((await stack.api("DELETE", "/api/services/calc2")).status).toBe(204);
    await stack.untilHeld(
      "a",
      (held) => held !== undefined && !held.some((t) => t.startsWith("calc2__")),
      10_000,
    );
    const after = readFileSync(stack.path, "utf8");
    expect(after).toContain("// my agents");
    expect(after).not.toContain("calc2");
    expect((await stack.api("DELETE", "/api/services/calc2")).status).toBe(404);
  });

  it("refuses bad service changes with a clear error and writes nothing", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], mcpServers: { calc } });
    const before = readFileSync(stack.path, "utf8");
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/api/services", { name: "a__b", config: calc }, 400, "INVALID_CONFIG"],
      ["POST", "/api/services", { name: "", config: calc }, 400, "INVALID_CONFIG"],
      ["POST", "/api/services", { name: "calc", config: calc }, 409, "DUPLICATE_SERVICE"],
      ["POST", "/api/services", { name: "x", config: {} }, 400, "INVALID_CONFIG"],
      ["POST", "/api/services", { name: "x", config: { url: "ftp://nope" } }, 400, "INVALID_CONFIG"],
      ["POST", "/api/services", { name: "x" }, 400, "BAD_REQUEST"],
      ["PUT", "/api/services/nope", calc, 404, "UNKNOWN_SERVICE"],
      ["PUT", "/api/services/calc", [1], 400, "BAD_REQUEST"],
      ["POST", "/api/services/nope/restart", undefined, 404, "UNKNOWN_SERVICE"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await stack.api(method, path, body);
      expect([method, path, response.status, response.body.error.code]).toEqual([method, path, status, code]);
      expect(response.body.error.message).toEqual(expect.any(String));
    }
    expect(readFileSync(stack.path, "utf8")).toBe(before);
  });
});

describe("agents by name, history and tool calls", () => {
  it("names agents from the config or the token, and never shows the token", () => {
    expect(agentNameOf(`wss://api.xiaozhi.me/mcp/?token=${jwt(4242)}`)).toBe("agent 4242");
    expect(agentNameOf("wss://api.xiaozhi.me/mcp/?token=plain-token")).toBe("api.xiaozhi.me");
    expect(agentNameOf("wss://h.example/mcp/?token=a.b.c")).toBe("h.example");
    const odd = Buffer.from(JSON.stringify({ agentId: "x y<script>" })).toString("base64url");
    expect(agentNameOf(`wss://h.example/?token=e30.${odd}.s`)).toBe("h.example");
  });

  it("records RTT, up/down periods and calls per agent; names reach status, logs and metrics", async () => {
    stack = await Stack.start({
      mcpEndpoint: [{ url: "cloud:a", name: "kitchen" }, "cloud:b"],
      mcpServers: { calc },
      connection: { heartbeatInterval: 100, heartbeatTimeout: 2000 },
    });
    const url = stack.cloud.endpointUrl(jwt(4242));
    const added = await stack.api("POST", "/api/endpoints", { url });
    expect(added.body.endpoint.name).toBe("agent 4242");
    const named = await stack.api("POST", "/api/endpoints", { url: stack.url("c"), name: " garage " });
    expect(named.body.endpoint.name).toBe("garage");
    expect(stack.readConfig().mcpEndpoint?.at(-1)).toEqual({ url: stack.url("c"), name: "garage" });

    const names = (await stack.api("GET", "/api/endpoints")).body.endpoints.map(
      (e: { name: string }) => e.name,
    );
    expect(names).toEqual(["kitchen", "127.0.0.1", "agent 4242", "garage"]);

    const agent = await stack.cloud.waitForSession(token("a"));
    const result = await agent.callTool("calc__add", { a: 2, b: 3 });
    expect(result.isError).not.toBe(true);
    await agent.callTool("nope__missing", {}).catch(() => {});
    await stack?.until(() => (stack?.adapter.history.calls().length ?? 0) >= 2, 5000, "calls recorded");
    const history = await stack.api("GET", `/api/history?endpoint=${stack.idOf("a")}`);
    expect(history.body.calls.slice(0, 2)).toEqual([
      expect.objectContaining({ agent: "kitchen", tool: "(unknown tool)", ok: false }),
      expect.objectContaining({ agent: "kitchen", tool: "calc__add", ok: true, ms: expect.any(Number) }),
    ]);
    expect(JSON.stringify(history.body.calls)).not.toMatch(/"a":2|"arguments"|"content"/);
    expect(history.body.tools).toContainEqual(
      expect.objectContaining({ name: "calc__add", calls: 1, errors: 0, p50Ms: expect.any(Number) }),
    );
    expect(history.body.bounds).toMatchObject({ windowMs: 3_600_000, pointsPerEndpoint: 120 });

    // Heartbeats every 100 ms give RTT points; the link's up period is open.
    await stack?.until(
      () =>
        stack?.adapter.history.endpoint(stack.idOf("a"))?.points.some((p) => p.rttMs !== undefined) ?? false,
      5000,
      "an RTT point",
    );
    const mine = (await stack.api("GET", `/api/history?endpoint=${stack.idOf("a")}`)).body.endpoints[0];
    expect(mine).toMatchObject({ id: stack.idOf("a"), name: "kitchen" });
    expect(mine.points.at(-1)).toMatchObject({ rttMs: expect.any(Number), health: expect.any(Number) });
    expect(mine.periods).toEqual([{ up: true, from: expect.any(Number) }]);

    // A drop closes the up period and opens a down one with its reason.
    stack.cloud.close(token("a"), 4004, "Internal server error");
    await stack?.until(
      () => (stack?.adapter.history.endpoint(stack.idOf("a"))?.periods.length ?? 0) >= 2,
      5000,
      "a down period",
    );
    expect(stack.adapter.history.endpoint(stack.idOf("a"))?.periods[1]).toMatchObject({
      up: false,
      reason: expect.stringMatching(/closed 4004/),
    });
    // A reconnect asked for is a down period of its own: without that earlier drop's reason.
    const periodsOfA = () => stack?.adapter.history.endpoint(stack.idOf("a"))?.periods ?? [];
    await stack.until(() => periodsOfA().length >= 3, 10_000, "back up");
    expect((await stack.api("POST", `/api/endpoints/${stack.idOf("a")}/reconnect`)).status).toBe(202);
    await stack.until(() => periodsOfA().length >= 5, 10_000, "reconnected");
    expect(periodsOfA()[3]).toEqual({ up: false, from: expect.any(Number), to: expect.any(Number) });

    // Renaming in the file changes the name without reconnecting.
    const upgrades = stack.cloud.upgrades.get(token("b"));
    const raw = stack.readConfig();
    stack.writeConfig({
      ...raw,
      mcpEndpoint: [
        raw.mcpEndpoint?.[0],
        { url: stack.url("b"), name: "hall" },
        ...(raw.mcpEndpoint ?? []).slice(2),
      ],
    });
    await stack?.until(
      () => stack?.adapter.manager.getEndpointStatus(stack.idOf("b"))?.name === "hall",
      5000,
      "renamed",
    );
    expect(stack.cloud.upgrades.get(token("b"))).toBe(upgrades);

    const metrics = await fetch(`${stack.base}/metrics`).then((r) => r.text());
    stack.responses.push(metrics);
    expect(metrics).toMatch(
      new RegExp(`xiaozhi_endpoint_up\\{endpoint="${stack.idOf("b")}",name="hall"\\} 1`),
    );
    expect(metrics).toMatch(/xiaozhi_endpoint_health_score\{endpoint="ep-[0-9a-f]+",name="agent 4242"\}/);
    expect(metrics).toMatch(/xiaozhi_tool_calls_total\{tool="calc__add",outcome="ok"\} 1/);
    expect(metrics).toMatch(/xiaozhi_tool_calls_total\{tool="\(unknown tool\)",outcome="error"\} 1/);
    expect(
      stack.logs.some((line) => line.includes('"name":"kitchen"') && line.includes("endpoint dropped")),
    ).toBe(true);
  });
});
