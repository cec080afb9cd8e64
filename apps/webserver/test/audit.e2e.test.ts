import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateDir } from "../src/state.js";
import { demoTools, main, type RunningServer, runServer, stopServer, waitForOutput } from "./run-server.js";

// Who changed what, whichever way the change came: the API, the command line, an edit of the file.
let dir: string;
let config: string;
let env: Record<string, string>;
let server: RunningServer | undefined;

interface Entry {
  source: string;
  action: string;
  changes?: { what: string; change?: string; name?: string }[];
  outcome: string;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xz-audit-"));
  config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    `${JSON.stringify({ mcpEndpoint: [], mcpServers: { demo: { command: process.execPath, args: [demoTools] } } }, null, 2)}\n`,
  );
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
});

afterAll(async () => {
  if (server && server.process.exitCode === null) await stopServer(server);
});

const audit = async () =>
  ((await (await fetch(`${server?.url}api/audit`)).json()) as { entries: Entry[] }).entries.slice().reverse();

describe("the audit trail of a running server", () => {
  it("records a change from the API, one from the command line and a file edit, each once with its source", async () => {
    server = await runServer(["--config", config, "--port", "0"], env);
    const added = await fetch(`${server.url}api/clients`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "cursor" }),
    });
    expect(added.status).toBe(201);
    const cli = spawnSync(process.execPath, [main, "tool", "disable", "demo__clock", "--config", config], {
      env,
      cwd: dir,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(cli.status, cli.stderr).toBe(0);
    const file = JSON.parse(readFileSync(config, "utf8"));
    writeFileSync(config, `${JSON.stringify({ ...file, webUI: { allowedHosts: ["nas.lan"] } }, null, 2)}\n`);
    await waitForOutput(server, /config changed on disk/);
    await expect.poll(async () => (await audit()).length, { timeout: 10_000 }).toBe(4);

    const entries = await audit();
    expect(entries.map((e) => [e.source, e.action, e.changes, e.outcome])).toEqual([
      ["start", "start", undefined, "applied"],
      ["api", "config", [{ what: "client", change: "added", name: "cursor" }], "applied"],
      ["cli", "config", [{ what: "tool", change: "off", name: "demo__clock" }], "applied"],
      ["file", "config", [{ what: "setting", change: "changed", name: "webUI" }], "applied"],
    ]);
    const token = (JSON.parse(readFileSync(config, "utf8")).clients as { token: string }[])[0]
      ?.token as string;
    expect(JSON.stringify(entries)).not.toContain(token);
  }, 60_000);

  it("keeps the trail in the state directory, owner-only, and shows it again after a restart", async () => {
    if (!server) throw new Error("setup failed");
    expect(await stopServer(server)).toBe(0);
    const state = stateDir(env, config);
    expect(readdirSync(state)).toContain("audit.jsonl");
    const lines = readFileSync(join(state, "audit.jsonl"), "utf8").trim().split("\n");
    expect(lines.map((line) => JSON.parse(line).source)).toEqual(["start", "api", "cli", "file"]);
    expect(statSync(join(state, "audit.jsonl")).mode & 0o777).toBe(0o600);

    server = await runServer(["--config", config, "--port", "0"], env);
    await expect
      .poll(async () => (await audit()).map((e) => e.source), { timeout: 10_000 })
      .toEqual(["start", "api", "cli", "file", "start"]);
  }, 60_000);
});
