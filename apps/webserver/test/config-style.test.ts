import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterEach, describe, expect, it } from "vitest";
import { stateDir } from "../src/state.js";
import { alive, demoTools, runCli } from "./run-server.js";

let cloud: SimulatedXiaozhiCloud | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await cloud?.stop();
  cloud = undefined;
});

const token = (name: string) => `tok-secret-${name}-eyJhbGciOiJIUzI1NiJ9`;

/** xiaozhi-client's JSON5, as people write it: unquoted keys, single quotes, trailing commas, comments. */
function userFile(url: (name: string) => string): string {
  return `// 小智的配置
{
  mcpEndpoint: [
    '${url("living")}', // 客厅
    '${url("study")}', // 书房
  ],
  mcpServers: {
    demo: { command: '${process.execPath}', args: ['${demoTools}'] }, // 演示工具
  },
  customMCP: {
    tools: [
      {
        name: 'weather',
        description: '天气',
        inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
        handler: { type: 'http', url: 'http://127.0.0.1:1/', body_template: '{"city": "{{city}}"}' }, // 天气接口
      },
    ],
  },
}
`;
}

/** Each comment of the original is still on the line of the entry it annotates. */
function expectCommentsInPlace(text: string, url: (name: string) => string): void {
  const lineOf = (marker: string) => text.split("\n").find((line) => line.includes(marker)) ?? "";
  expect(lineOf("// 客厅")).toContain(url("living"));
  expect(lineOf("// 书房")).toContain(url("study"));
  expect(lineOf("// 演示工具")).toContain("demo: { command:");
  expect(lineOf("// 天气接口")).toContain("handler: { type: 'http'");
  expect(text.startsWith("// 小智的配置\n{\n")).toBe(true);
}

/** The style is the file's: no quoted key, no double-quoted string, the JSON in a string as written. */
function expectStyleKept(text: string): void {
  const template = `body_template: '{"city": "{{city}}"}'`;
  expect(text).toContain(template);
  const rest = text.replace(template, "");
  expect(rest).not.toMatch(/"[\w$]+"\s*:/);
  expect(rest).not.toMatch(/:\s*"/);
  expect(text).toMatch(/ {2}\],\n {2}mcpServers: \{/);
}

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "xz-style-"));
  const env = { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1" };
  return { dir, env, path: join(dir, "xiaozhi.config.json5") };
}

describe("the user's JSON5 file through every write", () => {
  it("offline: endpoint add and remove, tool disable and enable, by the CLI on the file", async () => {
    const url = (name: string) => `wss://api.xiaozhi.me/mcp/?token=${token(name)}`;
    const { dir, env, path } = scratch();
    const original = userFile(url);
    writeFileSync(path, original);
    const added = await runCli(["endpoint", "add", url("kitchen"), "--name", "厨房"], env, dir);
    expect(added.code, added.err).toBe(0);
    const afterAdd = readFileSync(path, "utf8");
    expect(afterAdd).toBe(
      original.replace(
        `// 书房\n`,
        `// 书房\n    {\n      url: '${url("kitchen")}',\n      name: '厨房',\n    },\n`,
      ),
    );
    expectCommentsInPlace(afterAdd, url);
    expectStyleKept(afterAdd);
    expect((await runCli(["endpoint", "remove", url("kitchen")], env, dir)).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(original);

    expect((await runCli(["endpoint", "remove", url("study")], env, dir)).code).toBe(0);
    const withoutStudy = readFileSync(path, "utf8");
    expect(withoutStudy).toBe(original.replace(`    '${url("study")}', // 书房\n`, ""));

    expect((await runCli(["tool", "disable", "demo__clock"], env, dir)).code).toBe(0);
    const disabled = readFileSync(path, "utf8");
    expectStyleKept(disabled);
    expect(disabled).toMatch(
      / {2}mcpServerConfig: \{\n {4}demo: \{\n {6}tools: \{\n {8}clock: \{\n {10}enable: false,/,
    );
    expect((await runCli(["tool", "enable", "demo__clock"], env, dir)).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(disabled.replace("enable: false", "enable: true"));
  }, 120_000);

  it("online: the same writes through the running server's API", async () => {
    cloud = await SimulatedXiaozhiCloud.start();
    const c = cloud;
    const url = (name: string) => c.endpointUrl(token(name));
    const { dir, env, path } = scratch();
    const original = userFile(url);
    writeFileSync(path, original);
    const pidFile = join(stateDir(env, path), "xiaozhi-connect.pid");
    cleanups.push(() => {
      try {
        const pid = Number(readFileSync(pidFile, "utf8"));
        if (pid && alive(pid)) process.kill(-pid, "SIGKILL");
      } catch {
        // Stopped as it should.
      }
    });
    const started = await runCli(["start", "-d", "--port", "0"], env, dir);
    expect(started.out, started.err).toMatch(/endpoints 2\/2 connected/);

    const added = await runCli(["endpoint", "add", url("kitchen"), "--name", "厨房"], env, dir);
    expect(added.out, added.err).toMatch(/\(connected\)/);
    const afterAdd = readFileSync(path, "utf8");
    expectCommentsInPlace(afterAdd, url);
    expectStyleKept(afterAdd);
    expect(afterAdd).toContain(`    {\n      url: '${url("kitchen")}',\n      name: '厨房',\n    },\n  ],`);
    const id = /added (ep-[0-9a-f]{12})/.exec(added.out)?.[1] as string;
    expect((await runCli(["endpoint", "remove", id], env, dir)).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(original);

    const session = await c.waitForSession(token("living"));
    expect((await runCli(["tool", "disable", "demo__clock"], env, dir)).code).toBe(0);
    expect((await session.listTools()).map((t) => t.name)).not.toContain("demo__clock");
    const disabled = readFileSync(path, "utf8");
    expectCommentsInPlace(disabled, url);
    expectStyleKept(disabled);
    expect((await runCli(["tool", "enable", "demo__clock"], env, dir)).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(disabled.replace("enable: false", "enable: true"));
    expect((await runCli(["stop"], env, dir)).code).toBe(0);
  }, 120_000);
});
