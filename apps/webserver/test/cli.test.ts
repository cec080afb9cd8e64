import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  alive,
  childrenOf,
  demoTools,
  gone,
  main,
  onLoopback,
  type RunningServer,
  runServer,
  spawnServer,
  stopServer,
  waitForOutput,
} from "./run-server.js";

const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;
let cloud: SimulatedXiaozhiCloud | undefined;
let server: RunningServer | undefined;

afterEach(async () => {
  if (server && server.process.exitCode === null && server.process.signalCode === null) {
    server.process.kill("SIGKILL");
    await server.exited;
  }
  server = undefined;
  await cloud?.stop();
  cloud = undefined;
});

function writeConfig(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "xz-cli-")), "xiaozhi.config.json");
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

describe("the xiaozhi-connect CLI", () => {
  it("serves a config's endpoints, answers the API, and shuts down cleanly on SIGTERM", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const names = ["a", "b", "c"];
    const config = writeConfig({
      mcpEndpoint: names.map((n) => cloud?.endpointUrl(token(n))),
      mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
    });
    server = await runServer(["--config", config, "--port", "0"]);
    expect(server.stdout()).toMatch(
      /ready: dashboard http:\/\/127\.0\.0\.1:\d+\/ · endpoints 3\/3 connected · 2 tools · config .*xiaozhi\.config\.json/,
    );

    const endpoints = (await (await fetch(`${server.url}api/endpoints`)).json()) as {
      endpoints: { state: string }[];
    };
    expect(endpoints.endpoints.map((e) => e.state)).toEqual(["connected", "connected", "connected"]);
    const status = (await (await fetch(`${server.url}api/status`)).json()) as { config: { path: string } };
    expect(status.config.path).toBe(config);
    const sessions = names.map((n) => cloud?.sessions(token(n))[0]);
    const result = await sessions[0]?.callTool("demo__calculator", { a: 6, b: 7, op: "multiply" });
    expect(result?.content).toEqual([{ type: "text", text: "42" }]);

    const pid = server.process.pid as number;
    const children = childrenOf(pid);
    expect(children.length).toBeGreaterThanOrEqual(1);
    const started = Date.now();
    server.process.kill("SIGTERM");
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5000);
    const closes = await Promise.all(sessions.map((s) => s?.closed));
    for (const close of closes) expect([1000, 1001]).toContain(close?.code);
    expect(children.filter(alive)).toEqual([]);
    expect(server.stdout() + server.stderr()).not.toMatch(/tok-secret|eyJhbGciOiJIUzI1NiJ9/);
  });

  it("exits at once on a second signal while a stubborn service holds the shutdown up", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    // A real MCP service that ignores SIGTERM and a closed stdin: stopping it takes seconds.
    const stubborn = `process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); await import(${JSON.stringify(
      pathToFileURL(demoTools).href,
    )});`;
    const config = writeConfig({
      mcpEndpoint: [cloud.endpointUrl(token("a"))],
      mcpServers: { stubborn: { command: process.execPath, args: ["--input-type=module", "-e", stubborn] } },
    });
    server = await runServer(["--config", config, "--port", "0"]);
    expect(server.stdout()).toMatch(/endpoints 1\/1 connected · 2 tools/);
    const children = childrenOf(server.process.pid as number);
    expect(children.length).toBeGreaterThanOrEqual(1);
    server.process.kill("SIGTERM");
    await waitForOutput(server, /shutting down/);
    expect(server.process.exitCode).toBeNull();
    server.process.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 130, signal: null });
    // Even the stubborn service does not outlive it.
    await gone(children);
  });

  it("stops cleanly on SIGTERM during startup, a service still in its handshake, leaving no process", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const config = writeConfig({
      mcpEndpoint: [cloud.endpointUrl(token("a"))],
      mcpServers: {
        silent: {
          command: process.execPath,
          args: ["-e", "setInterval(() => {}, 1000)"],
          handshakeTimeout: 60_000,
        },
      },
    });
    const starting = spawnServer(["--config", config, "--port", "0"]);
    server = { ...starting, url: "" };
    const pid = starting.process.pid as number;
    // The service's process exists and has not answered initialize: startup is not over.
    const children = await new Promise<number[]>((resolve) => {
      const look = () => {
        const found = childrenOf(pid);
        if (found.length > 0) resolve(found);
        else setTimeout(look, 20);
      };
      look();
    });
    expect(starting.stdout()).not.toMatch(/ready:/);
    starting.process.kill("SIGTERM");
    expect(await starting.exited).toEqual({ code: 0, signal: null });
    await gone(children);
  });

  it("starts in demo mode without any config and says so", async () => {
    server = await runServer(["--port", "0"]);
    expect(server.stdout()).toMatch(/DEMO MODE/);
    expect(server.stdout()).toMatch(/endpoints 3\/3 connected · 2 tools · config demo mode/);
    server.process.kill("SIGINT");
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it("keeps running on SIGHUP without a terminal, as under systemd or start -d, and stops on SIGTERM", async () => {
    server = await runServer(["--port", "0"]);
    server.process.kill("SIGHUP");
    await waitForOutput(server, /SIGHUP: nothing to reload/, 10_000);
    expect((await fetch(new URL("/healthz", server.url))).status).toBe(200);
    server.process.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it("refuses an invalid config with the field and the reason, exit 1", () => {
    const config = writeConfig({
      mcpEndpoint: "wss://x/?token=abc",
      connection: { heartbeatTimeout: "soon" },
    });
    const result = spawnSync(process.execPath, [main, "--config", config, "--port", "0"], {
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/connection\.heartbeatTimeout: .*number/);
  });

  it("rejects bad flags with usage, exit 2, and needs an explicitly named config to exist", () => {
    const bad = spawnSync(process.execPath, [main, "--port", "http"], { encoding: "utf8", timeout: 15_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/port must be an integer.*--help shows the usage/s);
    const missing = spawnSync(process.execPath, [main, "--config", "/nonexistent/x.json"], {
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/config file not found: \/nonexistent\/x\.json/);
  });

  it("beyond loopback, generates a bearer token, prints it once, and guards changes with it", async () => {
    server = await runServer(["--host", "0.0.0.0", "--port", "0"]);
    expect(server.stdout()).toMatch(/needs a sign-in with a token or your password/);
    const generated = /ready: dashboard \S+#token=(\S+)/.exec(server.stdout())?.[1] ?? "";
    expect(generated).toMatch(/^[\w-]{32}$/);
    expect(server.stdout().split(generated)).toHaveLength(2);
    // Shown where another machine opens it, not at the wildcard address.
    expect(new URL(server.url).hostname).not.toBe("0.0.0.0");
    const base = onLoopback(server.url);
    const denied = await fetch(`${base}api/endpoints`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "ws://127.0.0.1:1/mcp/?token=x" }),
    });
    expect(denied.status).toBe(401);
    const events = await fetch(`${base}api/events`, { headers: { authorization: `Bearer ${generated}` } });
    expect(events.status).toBe(200);
    await events.body?.cancel();
    expect(server.stderr()).not.toContain(generated as string);
    expect(await stopServer(server)).toBe(0);
  });
});
