import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "@xiaozhi-connect/core/testing";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type RunningServer, runServer, stopServer } from "./run-server.js";

// The token in the environment, the reference in the file: as in a container.
const secret = "tok-secret-env-eyJhbGciOiJIUzI1NiJ9";
let cloud: SimulatedXiaozhiCloud;
let dir: string;
let config: string;
let env: Record<string, string>;
let server: RunningServer | undefined;

beforeAll(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  dir = mkdtempSync(join(tmpdir(), "xz-env-"));
  config = join(dir, "xiaozhi.config.json");
  const url = cloud.endpointUrl("TOKEN").replace("TOKEN", "${XZ_TOKEN_A}");
  writeFileSync(config, `${JSON.stringify({ mcpEndpoint: [url] }, null, 2)}\n`);
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
});

afterAll(async () => {
  if (server && server.process.exitCode === null) await stopServer(server);
  await cloud.stop();
});

describe("a config that takes its endpoint token from the environment", () => {
  it("connects with the variable's value, and says which values come from the environment, never them", async () => {
    server = await runServer(["--config", config, "--port", "0"], { ...env, XZ_TOKEN_A: secret });
    const session = await cloud.waitForSession(secret);
    await session.ready;
    const status = (await (await fetch(`${server.url}api/status`)).json()) as {
      config: { fromEnv: unknown };
    };
    expect(status.config.fromEnv).toEqual([{ path: "mcpEndpoint[0]", variables: ["XZ_TOKEN_A"] }]);
    const endpoints = await (await fetch(`${server.url}api/endpoints`)).text();
    expect(endpoints).not.toContain(secret);
    expect(await stopServer(server)).toBe(0);
    expect(server.stdout() + server.stderr()).not.toContain(secret);
    expect(readFileSync(config, "utf8")).toContain("${XZ_TOKEN_A}");
  });

  it("refuses to start, and `config check` fails, naming the variable that is not set", () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [main, ...args], { env, cwd: dir, encoding: "utf8", timeout: 20_000 });
    const started = run(["--config", config, "--port", "0"]);
    expect(started.status).toBe(1);
    expect(started.stderr).toMatch(/mcpEndpoint\[0\]: environment variable XZ_TOKEN_A is not set/);
    const checked = run(["config", "check", config]);
    expect(checked.status).toBe(1);
    expect(checked.stdout + checked.stderr).toMatch(
      /mcpEndpoint\[0\]: environment variable XZ_TOKEN_A is not set/,
    );
  });

  it("keeps its own secrets from the services it starts, and gives them what the config gives them", async () => {
    // A service that writes down the environment it was started with.
    const dump = join(dir, "service-env.json");
    const script = join(dir, "env-dump.mjs");
    writeFileSync(
      script,
      'import { writeFileSync } from "node:fs";\nwriteFileSync(process.env.ENV_OUT, JSON.stringify(process.env));\n',
    );
    const withService = join(dir, "with-service.json");
    const url = cloud.endpointUrl("TOKEN").replace("TOKEN", "${XZ_TOKEN_A}");
    writeFileSync(
      withService,
      JSON.stringify({
        mcpEndpoint: [url],
        mcpServers: {
          dump: { command: process.execPath, args: [script], env: { ENV_OUT: dump, GIVEN: "${XZ_GIVEN}" } },
        },
      }),
    );
    server = await runServer(["--config", withService, "--port", "0"], {
      ...env,
      XZ_TOKEN_A: secret,
      XIAOZHI_TOKEN: "admin-token-of-the-webserver-0123456789",
      XZ_GIVEN: "given-to-the-service",
      XZ_OTHER: "anything-else",
    });
    // Parsed when whole: the service may still be writing it when it appears.
    const parsed = () => {
      try {
        return JSON.parse(readFileSync(dump, "utf8")) as Record<string, string>;
      } catch {
        return undefined;
      }
    };
    await until(() => parsed() !== undefined, 20_000, "the service's environment");
    const seen = parsed() as Record<string, string>;
    expect(seen.XZ_TOKEN_A).toBeUndefined();
    expect(seen.XIAOZHI_TOKEN).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(secret);
    expect(seen).toMatchObject({
      GIVEN: "given-to-the-service",
      XZ_GIVEN: "given-to-the-service",
      XZ_OTHER: "anything-else",
    });
    expect(await stopServer(server)).toBe(0);
  });
});
