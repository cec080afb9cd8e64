import { afterEach, describe, expect, it } from "vitest";
import type { ConfigStatus } from "../src/index.js";
import { finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

/** The value of `xiaozhi_config_reloads_total{result="…"}`, 0 when absent. */
async function reloads(target: Stack, result: string): Promise<number> {
  const text = await fetch(`${target.base}/metrics`).then((r) => r.text());
  const line = text.split("\n").find((l) => l.startsWith(`xiaozhi_config_reloads_total{result="${result}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

/** Resolves with the next `config` event of the adapter. */
function nextConfigEvent(target: Stack): Promise<ConfigStatus> {
  return new Promise((resolve) => {
    const stop = target.adapter.on("config", (status) => {
      stop();
      resolve(status);
    });
  });
}

describe("one path for a config change", () => {
  it("turns an edit on disk into one apply attempt: one event, one metric increment, the links changed", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"] });
    const s = stack;
    expect(await reloads(s, "applied")).toBe(0);
    const events: ConfigStatus[] = [];
    s.adapter.on("config", (status) => events.push(status));
    const event = nextConfigEvent(s);
    s.writeConfig({ mcpEndpoint: [s.url("a"), s.url("b")] });
    const status = await event;
    expect(status).toMatchObject({
      path: s.path,
      lastError: null,
      last: { source: "file", outcome: "applied" },
    });
    expect(status.loadedAt).toBe(status.last?.at);
    await s.cloud.waitForSession(token("b"));
    expect(events).toHaveLength(1);
    expect(await reloads(s, "applied")).toBe(1);

    // A rejected edit is one attempt too, and the running config stays.
    const rejected = nextConfigEvent(s);
    s.writeConfig({ mcpEndpoint: [s.url("a")], connection: { heartbeatInterval: "soon" } });
    expect(await rejected).toMatchObject({ last: { source: "file", outcome: "rejected" } });
    expect(events).toHaveLength(2);
    expect(await reloads(s, "rejected")).toBe(1);
    expect(await reloads(s, "applied")).toBe(1);
    expect(s.adapter.endpoints()).toHaveLength(2);

    // Fixed on disk: applied again. An API write then is an attempt of its own, and no reload.
    const fixed = nextConfigEvent(s);
    s.writeConfig({ mcpEndpoint: [s.url("a"), s.url("b")] });
    expect(await fixed).toMatchObject({ lastError: null, last: { source: "file", outcome: "applied" } });
    expect((await s.api("POST", "/api/endpoints", { url: s.url("c") })).status).toBe(201);
    expect(events.at(-1)).toMatchObject({ last: { source: "api", outcome: "applied" } });
    expect(events).toHaveLength(4);
    expect(await reloads(s, "applied")).toBe(2);
  });

  it("never makes an API write wait behind another endpoint's connect", async () => {
    // A black-holed endpoint: the upgrade is never answered, so its connect waits out connectionTimeout.
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], connection: { connectionTimeout: 60_000 } });
    const s = stack;
    s.cloud.configure(token("hole"), { hangUpgrade: true });
    const connecting = new Promise<void>((resolve) => {
      const stop = s.adapter.on("endpoint", (status) => {
        if (status.id !== s.idOf("hole") || status.state !== "connecting") return;
        stop();
        resolve();
      });
    });
    const abort = new AbortController();
    const hanging = fetch(`${s.base}/api/endpoints`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: s.url("hole") }),
      signal: abort.signal,
    }).catch(() => undefined);
    // The hanging add is committed and connecting; the next write must not queue behind it.
    await connecting;
    const started = Date.now();
    const added = await s.api("POST", "/api/endpoints", { url: s.url("b") });
    expect(added.status).toBe(201);
    expect(added.body.endpoint.state).toBe("connected");
    const listed = await s.api("GET", "/api/endpoints");
    expect(listed.body.endpoints.map((e: { state: string }) => e.state).sort()).toEqual([
      "connected",
      "connected",
      "connecting",
    ]);
    // Well inside the hanging connect's 60 s: nothing waited for it.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await Promise.race([hanging.then(() => "answered"), Promise.resolve("still waiting")])).toBe(
      "still waiting",
    );
    abort.abort();
  });
});
