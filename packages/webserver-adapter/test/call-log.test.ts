import { endpointId } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { CallLog } from "../src/history/call-log.js";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

async function start(options: { authToken?: string } = {}) {
  const s = await Stack.start(
    {
      mcpEndpoint: ["cloud:a", "cloud:b"],
      mcpServers: { calc: { command: process.execPath, args: [calcFixture] } },
    },
    options,
  );
  stack = s;
  await s.untilHeld("a", (held) => held?.includes("calc__add") === true, 15_000);
  await s.untilHeld("b", (held) => held?.includes("calc__add") === true, 15_000);
  return { s, a: await s.cloud.waitForSession(token("a")), b: await s.cloud.waitForSession(token("b")) };
}

/** Arguments a debugging user would want to see, with a secret among them. */
const args = { a: 2, b: 3, marker: "visible-argument-7f3a", apiKey: "sk-live-should-never-show" };

describe("the opt-in call log", () => {
  it("keeps nothing while off; on, shows arguments and results with secrets masked; off again, forgets", async () => {
    const { s, a, b } = await start();
    await a.callTool("calc__add", args);
    const off = await s.api("GET", "/api/call-log");
    expect(off.body).toEqual({ state: { on: false }, entries: [] });

    const on = await s.api("POST", "/api/call-log", { minutes: 5 });
    expect(on.body.state).toMatchObject({ on: true });
    expect(on.body.state.until).toBeGreaterThan(Date.now() + 4 * 60_000);
    expect(await a.callTool("calc__add", args)).toMatchObject({ content: [{ type: "text", text: "5" }] });
    const logged = (await s.api("GET", "/api/call-log")).body.entries;
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ tool: "calc__add", endpoint: endpointId(s.url("a")) });
    expect(JSON.parse(logged[0].arguments)).toEqual({ ...args, apiKey: "<masked>" });
    expect(JSON.parse(logged[0].result)).toMatchObject({ content: [{ type: "text", text: "5" }] });

    // One endpoint only: the other agent's calls are not kept.
    const id = endpointId(s.url("b"));
    expect((await s.api("POST", "/api/call-log", { endpoint: id })).status).toBe(200);
    await a.callTool("calc__add", args);
    await b.callTool("calc__add", { a: 1, b: 1 });
    const only = (await s.api("GET", "/api/call-log")).body.entries as { endpoint: string }[];
    expect(only.map((e) => e.endpoint)).toEqual([id, endpointId(s.url("a"))]);

    expect((await s.api("DELETE", "/api/call-log")).status).toBe(204);
    await a.callTool("calc__add", args);
    expect((await s.api("GET", "/api/call-log")).body).toEqual({ state: { on: false }, entries: [] });
    // Off, no argument is anywhere: not in the history, the logs or any answer.
    const history = JSON.stringify((await s.api("GET", "/api/history")).body);
    expect(history).not.toContain("visible-argument");
    expect(s.logs.join("\n")).not.toContain("visible-argument");
    expect(s.responses.join("\n")).not.toContain("sk-live-should-never-show");
    expect((await s.api("POST", "/api/call-log", { minutes: 99_999 })).status).toBe(400);
    expect((await s.api("POST", "/api/call-log", { endpoint: "ep-000000000000" })).status).toBe(404);
  }, 30_000);

  it("takes an endpoint by its URL too, and keeps and shows it by its id only", async () => {
    const { s, a, b } = await start();
    const on = await s.api("POST", "/api/call-log", { endpoint: s.url("b") });
    expect(on.status).toBe(200);
    expect(on.body.state.endpoint).toBe(endpointId(s.url("b")));
    await a.callTool("calc__add", args);
    await b.callTool("calc__add", { a: 1, b: 1 });
    const logged = (await s.api("GET", "/api/call-log")).body;
    expect(logged.state.endpoint).toBe(endpointId(s.url("b")));
    expect(logged.entries.map((e: { endpoint: string }) => e.endpoint)).toEqual([endpointId(s.url("b"))]);
    const unknown = await s.api("POST", "/api/call-log", { endpoint: s.url("nobody") });
    expect(unknown.status).toBe(404);
    expect(s.responses.join("\n")).not.toContain("tok-secret");
  }, 30_000);

  it("is for signed-in users only where a token is set, on loopback too", async () => {
    const { s } = await start({ authToken: "the-bearer-token-0123456789" });
    expect((await s.api("GET", "/api/call-log")).status).toBe(401);
    const bearer = { authorization: "Bearer the-bearer-token-0123456789" };
    expect((await s.api("GET", "/api/call-log", undefined, bearer)).status).toBe(200);
  }, 30_000);

  it("turns itself off when its time is up, and bounds what it keeps", async () => {
    let now = 1_000_000;
    const log = new CallLog({ now: () => now, maxValueBytes: 64, maxTotalBytes: 1000 });
    const source = {
      specificationVersion: "v1" as const,
      listTools: () => [],
      callTool: async () => ({ content: [{ type: "text", text: "x".repeat(500) }] }),
      onToolsChanged: () => () => {},
    };
    const logged = log.wrap(source);
    const signal = new AbortController().signal;
    log.start({ minutes: 1 });
    for (let i = 0; i < 10; i++) await logged.callTool("t", { password: "hunter2", i }, { signal });
    const entries = log.entries();
    expect(entries.length).toBeLessThan(10);
    expect(entries[0]?.arguments).toBe('{"password":"<masked>","i":9}');
    expect(entries[0]?.result).toMatch(/… \[cut: \d+ bytes\]$/);
    // JSON written as text, as tools often answer, has its secret-looking keys masked too.
    const roomy = new CallLog({ now: () => now });
    roomy.start({ minutes: 1 });
    const json = roomy.wrap({
      ...source,
      callTool: async () => ({
        content: [{ type: "text", text: '{"region":"eu","api_key":"sk-live-in-a-text-result"}' }],
      }),
    });
    await json.callTool("env", {}, { signal });
    expect(roomy.entries()[0]?.result).not.toContain("sk-live-in-a-text-result");
    expect(JSON.parse(JSON.parse(roomy.entries()[0]?.result as string).content[0].text)).toEqual({
      region: "eu",
      api_key: "<masked>",
    });
    now += 60_001;
    expect(log.state).toEqual({ on: false });
    expect(log.entries()).toEqual([]);
    await logged.callTool("t", {}, { signal });
    expect(log.entries()).toEqual([]);
  });
});
