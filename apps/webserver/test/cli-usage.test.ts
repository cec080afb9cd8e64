import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import { until } from "@xiaozhi-connect/core/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli.js";
import { stateDir } from "../src/state.js";
import { capture } from "./capture.js";
import { main as built } from "./run-server.js";

afterEach(() => {
  vi.restoreAllMocks();
});

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "xz-usage-"));
  const env = { HOME: dir, XDG_STATE_HOME: join(dir, "state"), XIAOZHI_LOG_LEVEL: "silent", NO_COLOR: "1" };
  return { dir, env };
}

const url = (n: number) => `ws://127.0.0.1:1/mcp/?token=tok-usage-secret-${n}`;

/**
 * Serves three endpoints in this process while `task` runs commands against it, then stops it.
 * The endpoints stay `reconnecting` (port 1 refuses at once): no agent is needed.
 */
async function withServer(task: (run: (args: string[]) => ReturnType<typeof capture>) => Promise<void>) {
  const { dir, env } = scratch();
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(config, JSON.stringify({ mcpEndpoint: [url(1), url(2), url(3)] }));
  const serving = main(["--config", config, "--port", "0"], env);
  try {
    await until(() => existsSync(join(stateDir(env, config), "server.json")), 20_000, "the server's record");
    await task((args) => capture(args, env, dir));
  } finally {
    process.emit("SIGTERM");
    expect(await serving).toBe(0);
  }
}

describe("the command line's usage", () => {
  it("names endpoints by their id in what it prints, never by their URL", async () => {
    await withServer(async (run) => {
      // Everything the endpoint commands print, out and err: no token anywhere in it.
      const printed: string[] = [];
      const edit = async (args: string[]) => {
        const result = await run(args);
        printed.push(result.out, result.err);
        return result;
      };
      const reconnect = await edit(["endpoint", "reconnect", url(1)]);
      expect(reconnect).toMatchObject({ code: 0, out: `reconnecting ${endpointId(url(1))}\n` });
      expect((await edit(["endpoint", "reconnect", url(9)])).code).toBe(1);
      expect((await edit(["endpoint", "remove", url(3)])).out).toBe(`removed ${endpointId(url(3))}\n`);
      expect((await edit(["endpoint", "remove", url(3)])).code).toBe(1);
      expect((await edit(["endpoint", "add", url(3)])).code).toBe(0);
      expect((await edit(["endpoint", "add", url(3)])).code).toBe(1);
      expect((await edit(["endpoint", "add", url(4), "--json"])).code).toBe(0);
      expect((await edit(["endpoint", "remove", url(4)])).code).toBe(0);
      expect(printed.join("")).toMatch(/reconnecting ep-/);
      expect(printed.join("")).not.toContain("tok-usage-secret");
    });
  }, 60_000);

  it("finds an endpoint by the name its token gives it, as the tables of the command's language show it", async () => {
    await withServer(async (run) => {
      const claims = Buffer.from(JSON.stringify({ agentId: 4242 })).toString("base64url");
      const agent = `ws://127.0.0.1:1/mcp/?token=eyJhbGciOiJIUzI1NiJ9.${claims}.c2ln`;
      const id = JSON.parse((await run(["endpoint", "add", agent, "--json"])).out).id as string;
      expect((await run(["status", "--lang", "zh-CN"])).out).toMatch(new RegExp(`^${id} +智能体 4242 `, "m"));
      expect((await run(["status"])).out).toMatch(new RegExp(`^${id} +agent 4242 `, "m"));
      // A name given in the config is found as it is, in either form's language.
      const named = await run(["endpoint", "add", url(7), "--name", "智能体 7", "--json"]);
      const namedId = JSON.parse(named.out).id as string;
      const removedNamed = await run(["endpoint", "remove", "智能体 7", "--lang", "zh-CN"]);
      expect(removedNamed).toMatchObject({ code: 0, out: expect.stringContaining(namedId) });
      // Typed as Chinese often is, with no space.
      const removed = await run(["endpoint", "remove", "智能体4242", "--lang", "zh-CN"]);
      expect(removed).toMatchObject({ code: 0, out: expect.stringContaining(id) });
      const again = await run(["endpoint", "remove", "智能体 4242", "--lang", "zh-CN"]);
      expect(again).toMatchObject({ code: 1, err: expect.stringContaining("「智能体 4242」") });
    });
  }, 60_000);

  it("says when a page is past the end, never an inverted range", async () => {
    await withServer(async (run) => {
      const past = await run(["status", "--page", "99"]);
      expect(past.code).toBe(0);
      expect(past.out).toMatch(/^page 99 is past the end: 3 endpoints, 1 page$/m);
      expect(past.out).not.toMatch(/showing/);
      const filtered = await run(["status", "--state", "reconnecting", "--per-page", "2", "--page", "3"]);
      expect(filtered.out).toMatch(/^page 3 is past the end: 3 matching endpoints, 2 pages$/m);
      const chinese = await run(["status", "--page", "99", "--lang", "zh-CN"]);
      expect(chinese.out).toMatch(/第 99 页超出了末页：共 3 个接入点，1 页/);
      // Far out, past what the API's offset takes: still past the end, not an error.
      expect((await run(["status", "--page", "99999999999"])).out).toMatch(
        /page 99999999999 is past the end/,
      );
      // The last page still shows where it is.
      expect((await run(["status", "--per-page", "2", "--page", "2"])).out).toMatch(/showing 3–3 of 3$/m);
    });
  }, 60_000);

  it("refuses a bad --state, --page or --per-page as a usage error (exit 2), saying what it takes", async () => {
    await withServer(async (run) => {
      expect((await run(["status", "--per-page", "1000"])).code).toBe(0);
      expect((await run(["status", "--state", "connected, reconnecting"])).out).toMatch(/ep-/);
      const state = await run(["status", "--state", "bogus"]);
      expect(state.code).toBe(2);
      expect(state.err).toMatch(
        /state must be one of connecting, connected, reconnecting, disconnected, failed, stopped .*got "bogus"/,
      );
      expect((await run(["status", "--state", "connected,bogus"])).err).toMatch(/got "bogus"/);
      for (const size of ["0", "1001", "2.5", "1e3"]) {
        const bad = await run(["status", "--per-page", size]);
        expect({ size, code: bad.code }).toEqual({ size, code: 2 });
        expect(bad.err).toMatch(`per page must be a whole number from 1 to 1000, got "${size}"`);
      }
      const page = await run(["status", "--page", "0"]);
      expect(page).toMatchObject({
        code: 2,
        err: expect.stringMatching(/page must be a whole number from 1/),
      });
      const zh = await run(["status", "--per-page", "0", "--lang", "zh-CN"]);
      expect(zh.err).toMatch(/每页条数必须是 1 到 1000 之间的整数/);
    });
  }, 60_000);

  it("prints a group's help to stderr with exit 2 when its subcommand is missing", () => {
    const { dir, env } = scratch();
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [built, ...args], { cwd: dir, env, encoding: "utf8", timeout: 15_000 });
    for (const group of ["endpoint", "service", "tool", "config", "client", "mcp"]) {
      const result = cli([group]);
      expect({ group, status: result.status, stdout: result.stdout }).toEqual({
        group,
        status: 2,
        stdout: "",
      });
      expect(result.stderr).toMatch(`Usage: xiaozhi-connect ${group} [options] [command]`);
    }
    // Help asked for is no error.
    const asked = cli(["endpoint", "help"]);
    expect(asked.status).toBe(0);
    expect(asked.stdout).toMatch(/Usage: xiaozhi-connect endpoint/);
    expect(cli(["endpoint", "--help"]).status).toBe(0);
  }, 120_000);
});
