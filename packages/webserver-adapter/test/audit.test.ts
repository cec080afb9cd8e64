import { readFileSync } from "node:fs";
import { endpointId } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { AuditTrail, describeConfigChange } from "../src/history/audit-trail.js";
import { calcFixture, finish, Stack } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

interface Entry {
  source: string;
  action: string;
  changes?: unknown[];
  counts?: unknown;
  outcome: string;
  as?: string;
  address?: string;
  error?: string;
}

describe("the audit trail", () => {
  it("records each change once with its source: the API, the command line, a file edit, and a rejected edit", async () => {
    const lines: string[] = [];
    const s = await Stack.start(
      { mcpEndpoint: ["cloud:a"], mcpServers: { calc: { command: process.execPath, args: [calcFixture] } } },
      { audit: new AuditTrail({ sink: (line) => lines.push(line) }) },
    );
    stack = s;
    const added = await s.api("POST", "/api/endpoints", { url: s.url("b"), name: "kitchen" });
    expect(added.status).toBe(201);
    const off = await s.api(
      "PATCH",
      "/api/tools/calc__add",
      { enabled: false },
      { "x-xiaozhi-source": "cli" },
    );
    expect(off.status).toBe(200);
    const edited = s.nextCheck();
    s.writeConfig({ ...s.readConfig(), mcpEndpoint: [s.url("a")] });
    await edited;
    await s.until(() => s.adapter.endpoints().length === 1, 5000, "the edit applied");
    const broken = s.nextCheck();
    s.writeConfig({ ...s.readConfig(), connection: { heartbeatInterval: "often" } });
    await broken;
    await s.until(() => s.adapter.configStatus().lastError !== null, 5000, "the edit rejected");

    const audit = await s.api("GET", "/api/audit");
    const entries = (audit.body.entries as Entry[]).slice().reverse();
    const b = endpointId(s.url("b"));
    const seen = entries.map(({ source, action, changes, counts, outcome }) => ({
      source,
      action,
      changes,
      counts,
      outcome,
    }));
    expect(seen).toEqual([
      {
        source: "start",
        action: "start",
        changes: undefined,
        counts: { endpoints: 1, services: 1, clients: 0 },
        outcome: "applied",
      },
      {
        source: "api",
        action: "config",
        changes: [{ what: "endpoint", change: "added", name: b }],
        counts: undefined,
        outcome: "applied",
      },
      {
        source: "cli",
        action: "config",
        changes: [{ what: "tool", change: "off", name: "calc__add" }],
        counts: undefined,
        outcome: "applied",
      },
      {
        source: "file",
        action: "config",
        changes: [{ what: "endpoint", change: "removed", name: b }],
        counts: undefined,
        outcome: "applied",
      },
      { source: "file", action: "config", changes: undefined, counts: undefined, outcome: "rejected" },
    ]);
    expect(entries[1]).toMatchObject({ as: "none", address: "127.0.0.1" });
    expect(entries[4]?.error).toMatch(/connection\.heartbeatInterval/);
    // Every entry went to the sink too, one JSON line each.
    expect(lines.map((line) => JSON.parse(line).action)).toEqual([
      "start",
      "config",
      "config",
      "config",
      "config",
    ]);
  }, 30_000);

  it("records logins and actions without their secrets, and bounds what it keeps", async () => {
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] }, { authToken: "the-bearer-token-0123456789" });
    stack = s;
    const bearer = { authorization: "Bearer the-bearer-token-0123456789" };
    expect((await s.api("POST", "/api/login", { secret: "wrong-guess" })).status).toBe(401);
    expect((await s.api("POST", "/api/login", { secret: "the-bearer-token-0123456789" })).status).toBe(204);
    const id = s.adapter.endpoints()[0]?.id as string;
    expect((await s.api("POST", `/api/endpoints/${id}/reconnect`, undefined, bearer)).status).toBe(202);
    const entries = (await s.api("GET", "/api/audit")).body.entries as Entry[];
    expect(entries.slice(0, 3).map(({ action, outcome, as }) => ({ action, outcome, as }))).toEqual([
      { action: "reconnect", outcome: "ok", as: "token" },
      { action: "login", outcome: "ok", as: "none" },
      { action: "login", outcome: "refused", as: "none" },
    ]);
    expect(JSON.stringify(entries)).not.toMatch(/the-bearer-token|wrong-guess/);

    const small = new AuditTrail({ keep: 3 });
    for (let i = 0; i < 5; i++) small.record({ action: `a${i}`, outcome: "ok" });
    expect(small.recent().map((e) => e.action)).toEqual(["a4", "a3", "a2"]);
  }, 30_000);

  it("names an endpoint by its id however a request named it, and records no change for a refused removal", async () => {
    const lines: string[] = [];
    const s = await Stack.start(
      { mcpEndpoint: ["cloud:a", "cloud:b"] },
      { audit: new AuditTrail({ sink: (line) => lines.push(line) }) },
    );
    stack = s;
    const [a, b] = [endpointId(s.url("a")), endpointId(s.url("b"))];
    const byUrl = (name: string) => encodeURIComponent(s.url(name));
    expect((await s.api("POST", `/api/endpoints/${byUrl("a")}/reconnect`)).status).toBe(202);
    const unknown = await s.api("POST", `/api/endpoints/${byUrl("nobody")}/reconnect`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe(`no endpoint ${endpointId(s.url("nobody"))}`);

    // Removals nobody can make leave the file as it was, and the trail without a change.
    const file = readFileSync(s.path, "utf8");
    expect((await s.api("DELETE", "/api/endpoints/ep-000000000000")).status).toBe(404);
    expect((await s.api("DELETE", `/api/endpoints/${byUrl("nobody")}`)).status).toBe(404);
    expect(readFileSync(s.path, "utf8")).toBe(file);

    // A removal by URL removes it: from the running list and from the file.
    expect((await s.api("DELETE", `/api/endpoints/${byUrl("b")}`)).status).toBe(204);
    expect(s.adapter.endpoints().map((e) => e.id)).toEqual([a]);
    expect(s.readConfig().mcpEndpoint).toEqual([s.url("a")]);

    const entries = ((await s.api("GET", "/api/audit")).body.entries as Entry[]).slice().reverse();
    expect(entries.map(({ action, changes, outcome }) => ({ action, changes, outcome }))).toEqual([
      { action: "start", changes: undefined, outcome: "applied" },
      { action: "reconnect", changes: [{ what: "endpoint", name: a }], outcome: "ok" },
      {
        action: "reconnect",
        changes: [{ what: "endpoint", name: endpointId(s.url("nobody")) }],
        outcome: "refused",
      },
      { action: "config", changes: [{ what: "endpoint", change: "removed", name: b }], outcome: "applied" },
    ]);
    const everything = [...lines, ...s.responses, ...s.logs].join("\n");
    expect(everything).not.toContain("tok-secret");
  }, 30_000);

  it("describes a change by names and ids, never by values, and sums up a large one", () => {
    const changes = describeConfigChange(
      {
        mcpServers: { maps: { command: "a" }, old: { command: "b" } },
        clients: [{ name: "cursor", token: "secret-token-of-cursor-0123456" }],
      },
      {
        mcpServers: { maps: { command: "c" }, fresh: { command: "d" } },
        clients: [{ name: "cursor", token: "another-secret-token-0123456789" }],
        webUI: { port: 8080 },
        mcpEndpoint: Array.from({ length: 60 }, (_, i) => `wss://api.xiaozhi.me/mcp/?token=t${i}`),
      },
    );
    expect(changes).toHaveLength(50);
    expect(changes.at(-1)).toEqual({ what: "more", count: 16 });
    expect(JSON.stringify(changes)).not.toMatch(/secret-token|token=t/);
    // A customMCP tool switched by its own `enable` is a tool off or on, as a service's tool.
    const custom = (enable: boolean, description = "d") => ({
      customMCP: { tools: [{ name: "weather", description, enable }] },
    });
    expect(describeConfigChange(custom(true), custom(false))).toEqual([
      { what: "tool", change: "off", name: "weather" },
    ]);
    expect(describeConfigChange(custom(false), custom(true, "e"))).toEqual([
      { what: "tool", change: "on", name: "weather" },
      { what: "custom tool", change: "changed", name: "weather" },
    ]);
    const small = describeConfigChange(
      { mcpServers: { old: { command: "b" } } },
      { mcpServers: { fresh: { command: "d" } }, webUI: { port: 1 } },
    );
    expect(small).toEqual([
      { what: "service", change: "removed", name: "old" },
      { what: "service", change: "added", name: "fresh" },
      { what: "setting", change: "changed", name: "webUI" },
    ]);
  });
});
