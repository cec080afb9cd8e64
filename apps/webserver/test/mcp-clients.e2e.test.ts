import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture } from "./capture.js";
import {
  demoTools,
  gone,
  main,
  type RunningServer,
  runServer,
  spawnServer,
  stopServer,
} from "./run-server.js";

/** The official MCP Inspector's command line, as installed from npm. */
const inspectorBin = (() => {
  const dir = realpathSync(join(import.meta.dirname, "../node_modules/@modelcontextprotocol/inspector"));
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { bin: Record<string, string> };
  return join(dir, pkg.bin["mcp-inspector"] as string);
})();

let dir: string;
let config: string;
let env: Record<string, string>;
let server: RunningServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xz-mcp-clients-"));
  config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: [],
      mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
    }),
  );
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
});

afterAll(async () => {
  if (server && server.process.exitCode === null) await stopServer(server);
});

/** Runs `mcp-inspector --cli …` to its end (bounded), in the scratch home. */
function inspector(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [inspectorBin, "--cli", ...args], { cwd: dir, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mcp-inspector did not finish within 30 s\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tokenOf = (out: string) => /^ {2}(\S{32})$/m.exec(out)?.[1] as string;

describe("MCP clients from the command line", () => {
  let cursor: string;

  it("adds clients, printing each token once, lists them without tokens and removes them", async () => {
    const added = await capture(["client", "add", "cursor", "--config", config], env, dir);
    expect(added.code).toBe(0);
    cursor = tokenOf(added.out);
    expect(cursor).toMatch(/^[\w-]{32}$/);
    const limited = await capture(
      ["client", "add", "clock-only", "--tools", "demo__clock", "--config", config],
      env,
      dir,
    );
    expect(limited.code).toBe(0);
    const again = await capture(["client", "add", "cursor", "--config", config], env, dir);
    expect(again.code).not.toBe(0);
    expect(again.err).toMatch(/already an MCP client "cursor"/);

    const listed = await capture(["client", "list", "--config", config], env, dir);
    expect(listed.out).toMatch(/cursor\s+all tools/);
    expect(listed.out).toMatch(/clock-only\s+demo__clock/);
    const json = await capture(["client", "list", "--json", "--config", config], env, dir);
    expect(JSON.parse(json.out)).toEqual([
      { name: "cursor" },
      { name: "clock-only", tools: ["demo__clock"] },
    ]);
    expect(listed.out + json.out).not.toContain(cursor);
    expect(listed.out + json.out).not.toContain(tokenOf(limited.out));

    const removed = await capture(["client", "remove", "clock-only", "--config", config], env, dir);
    expect(removed.code).toBe(0);
    const unknown = await capture(["client", "remove", "clock-only", "--config", config], env, dir);
    expect(unknown.err).toMatch(/no MCP client "clock-only"/);
    const stored = JSON.parse(readFileSync(config, "utf8")) as { clients: { name: string; token: string }[] };
    expect(stored.clients).toEqual([{ name: "cursor", token: cursor }]);
  });

  it("says plainly that stdio needs a running server, and writes nothing to stdout", async () => {
    const stdio = spawnServer(["stdio", "--config", config], env, dir);
    const exit = await stdio.exited;
    expect(exit.code).not.toBe(0);
    expect(stdio.stderr()).toMatch(/No xiaozhi-connect server is running for this config/);
    expect(stdio.stdout()).toBe("");
  });

  it("lets the MCP Inspector list and call tools through /mcp, and refuses a wrong token", async () => {
    server = await runServer(["--config", config, "--port", "0"], env);
    const url = `${server.url}mcp`;
    const auth = ["--transport", "http", "--header", `Authorization: Bearer ${cursor}`];

    const listed = await inspector([url, ...auth, "--method", "tools/list"]);
    expect(listed.code, listed.stderr).toBe(0);
    const names = (JSON.parse(listed.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names.sort()).toEqual(["demo__calculator", "demo__clock"]);

    const called = await inspector([
      url,
      ...auth,
      "--method",
      "tools/call",
      "--tool-name",
      "demo__calculator",
      "--tool-arg",
      "a=6",
      "b=7",
      "op=multiply",
    ]);
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse(called.stdout)).toEqual({ content: [{ type: "text", text: "42" }] });

    const wrong = "not-the-token-of-anyone-at-all-xyz";
    const refused = await inspector([
      url,
      "--transport",
      "http",
      "--header",
      `Authorization: Bearer ${wrong}`,
      "--method",
      "tools/list",
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toMatch(/demo__calculator/);
    expect(server.stdout() + server.stderr()).toMatch(/MCP client refused/);

    // The call is in the server's history under the client's name, beside agents' calls.
    const history = (await (await fetch(`${server.url}api/history`)).json()) as {
      calls: { endpoint: string; agent?: string; tool: string; ok: boolean }[];
    };
    expect(history.calls).toContainEqual(
      expect.objectContaining({
        endpoint: "client:cursor",
        agent: "cursor",
        tool: "demo__calculator",
        ok: true,
      }),
    );
    expect(server.stdout() + server.stderr()).not.toContain(cursor);
    expect(server.stdout() + server.stderr()).not.toContain(wrong);

    // `stdio` names the client it cannot find, and asks which when several could be meant.
    const unknown = await capture(["stdio", "--client", "nobody", "--config", config], env, dir);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no MCP client "nobody"/);
    expect(unknown.out).toBe("");
    await capture(["client", "add", "second", "--config", config], env, dir);
    const which = await capture(["stdio", "--config", config], env, dir);
    expect(which.code).toBe(1);
    expect(which.err).toMatch(/Several MCP clients are configured \(cursor, second\)/);
    await capture(["client", "remove", "second", "--config", config], env, dir);

    // Through the running server: a client added works at once, and one removed stops at once.
    const initialize = async (token: string) => {
      const response = await fetch(`${server?.url}mcp`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "t", version: "1" },
          },
        }),
      });
      await response.body?.cancel();
      return response.status;
    };
    const temp = tokenOf((await capture(["client", "add", "temp", "--config", config], env, dir)).out);
    expect(await initialize(temp)).toBe(200);
    expect((await capture(["client", "remove", "temp", "--config", config], env, dir)).code).toBe(0);
    expect(await initialize(temp)).toBe(401);
    const audit = (await (await fetch(`${server.url}api/audit`)).json()) as { entries: { source: string }[] };
    expect(audit.entries.slice(0, 2).map((e) => e.source)).toEqual(["cli", "cli"]);
  });

  it("lets the MCP Inspector list and call tools through `xiaozhi-connect stdio`", async () => {
    // The Inspector starts the command with a minimal environment: hand it the scratch home.
    const command = ["-e", `HOME=${dir}`, "-e", `XDG_STATE_HOME=${env.XDG_STATE_HOME}`];
    const target = ["--", process.execPath, main, "stdio", "--client", "cursor", "--config", config];
    const listed = await inspector([...command, "--method", "tools/list", ...target]);
    expect(listed.code, listed.stderr).toBe(0);
    const names = (JSON.parse(listed.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names.sort()).toEqual(["demo__calculator", "demo__clock"]);

    const called = await inspector([
      ...command,
      "--method",
      "tools/call",
      "--tool-name",
      "demo__calculator",
      "--tool-arg",
      "a=6",
      "b=7",
      "op=add",
      ...target,
    ]);
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse(called.stdout)).toEqual({ content: [{ type: "text", text: "13" }] });
    // The bridge says nothing of its own on a clean end.
    expect(called.stderr).not.toMatch(/xiaozhi-connect stdio:/);
  });

  it("keeps a stdio client going across a restart of the server, on its new address", async () => {
    const client = new Client({ name: "desktop", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [main, "stdio", "--config", config],
      env,
      cwd: dir,
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    await client.connect(transport);
    const add = async (a: number, b: number) =>
      (
        (await client.callTool({
          name: "demo__calculator",
          arguments: { a, b, op: "add" },
        })) as CallToolResult
      ).content;
    expect(await add(1, 2)).toEqual([{ type: "text", text: "3" }]);

    const before = server?.url;
    if (server) expect(await stopServer(server)).toBe(0);
    server = await runServer(["--config", config, "--port", "0"], env);
    expect(server.url).not.toBe(before);
    expect(await add(2, 3)).toEqual([{ type: "text", text: "5" }]);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      "demo__calculator",
      "demo__clock",
    ]);
    const pid = transport.pid as number;
    await client.close();
    await gone([pid]);
    expect(stderr).not.toContain(cursor);
  });
});
