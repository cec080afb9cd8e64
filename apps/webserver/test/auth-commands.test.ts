import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { verifyPassword } from "@xiaozhi-connect/webserver-adapter";
import { beforeEach, describe, expect, it } from "vitest";
import { removeRecord, stateDir, writeRecord } from "../src/state.js";
import { capture } from "./capture.js";

let dir: string;
let config: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "xz-auth-cli-"));
  config = join(dir, "xiaozhi.config.json");
  writeFileSync(config, `${JSON.stringify({ mcpEndpoint: [], webUI: { port: 9999 } }, null, 2)}\n`);
  env = { HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
});

const typed = (text: string) => ({ terminal: false, input: Readable.from([text]) });

describe("`xiaozhi-connect password`", () => {
  it("keeps a scrypt hash of the password read from stdin, never the password, and removes it", async () => {
    const set = await capture(
      ["password", "--config", config],
      env,
      dir,
      typed("a long enough secret\nignored\n"),
    );
    expect(set.code).toBe(0);
    expect(set.out).toMatch(/Password set/);
    const stored = JSON.parse(readFileSync(config, "utf8")).webUI;
    expect(stored.port).toBe(9999);
    expect(stored.password).toMatch(/^scrypt:16384:8:1:/);
    expect(readFileSync(config, "utf8")).not.toContain("a long enough secret");
    expect(await verifyPassword("a long enough secret", stored.password)).toBe(true);
    expect(await verifyPassword("another one", stored.password)).toBe(false);

    const removed = await capture(["password", "--remove", "--config", config], env, dir);
    expect(removed.code).toBe(0);
    expect(JSON.parse(readFileSync(config, "utf8")).webUI).toEqual({ port: 9999 });
  });

  it("gives a JSON5 file back byte for byte when the password is set and removed again", async () => {
    const json5 = join(dir, "xiaozhi.config.json5");
    const text = `// mine\n{\n  mcpEndpoint: [\n    'wss://api.xiaozhi.me/mcp/?token=aaa', // 客厅\n  ],\n  webUI: { authToken: "some-long-token-value" },\n  mcpServers: {},\n}\n`;
    writeFileSync(json5, text);
    const set = await capture(["password", "--config", json5], env, dir, typed("hunter2-longpass\n"));
    expect(set.code).toBe(0);
    expect(readFileSync(json5, "utf8")).toMatch(
      /\n {2}webUI: \{ authToken: "some-long-token-value", password: "scrypt:[^"]+" \},\n/,
    );
    const removed = await capture(["password", "--remove", "--config", json5], env, dir);
    expect(removed.code).toBe(0);
    expect(readFileSync(json5, "utf8")).toBe(text);
    // Without a `webUI` at all, too; and a removal with no password set writes nothing.
    const bare = `{\n  mcpEndpoint: [],\n}\n`;
    writeFileSync(json5, bare);
    await capture(["password", "--config", json5], env, dir, typed("hunter2-longpass\n"));
    expect(readFileSync(json5, "utf8")).toMatch(/webUI/);
    await capture(["password", "--remove", "--config", json5], env, dir);
    expect(readFileSync(json5, "utf8")).toBe(bare);
    const since = statSync(json5).ino;
    expect((await capture(["password", "--remove", "--config", json5], env, dir)).code).toBe(0);
    expect(statSync(json5).ino).toBe(since);
  });

  it("refuses a short password and changes nothing", async () => {
    const before = readFileSync(config, "utf8");
    const short = await capture(["password", "--config", config], env, dir, typed("short\n"));
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/at least 8 characters/);
    expect(readFileSync(config, "utf8")).toBe(before);
  });
});

describe("`xiaozhi-connect token`", () => {
  it("prints the running server's token, as JSON too, and says why when there is none", async () => {
    const none = await capture(["token", "--config", config], env, dir);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/No xiaozhi-connect server is running for this config/);

    const state = stateDir(env, config);
    // This process stands in for the server: a record with a live pid is a running server.
    const record = { pid: process.pid, url: "http://127.0.0.1:9999/", config, startedAt: Date.now() };
    writeRecord(state, record);
    try {
      const loopback = await capture(["token", "--config", config], env, dir);
      expect(loopback.code).toBe(1);
      expect(loopback.err).toMatch(/needs no token/);
      writeRecord(state, { ...record, token: "generated-token-0123456789abcdef" });
      const plain = await capture(["token", "--config", config], env, dir);
      expect(plain).toMatchObject({ code: 0, out: "generated-token-0123456789abcdef\n" });
      const json = await capture(["token", "--json", "--config", config], env, dir);
      expect(JSON.parse(json.out)).toEqual({ token: "generated-token-0123456789abcdef", url: record.url });
    } finally {
      removeRecord(state, process.pid);
    }
  });
});
