import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type RunningServer, runServer, stopServer } from "./run-server.js";

// HTTPS without a reverse proxy: a self-signed certificate made for the test, named in webUI.tls
// relative to the config file, as a user would.
let dir: string;
let env: Record<string, string>;
let cert: Buffer;
let server: RunningServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xz-tls-"));
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-days",
    "1",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ]);
  cert = readFileSync(join(dir, "cert.pem"));
  env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
});

afterAll(async () => {
  if (server && server.process.exitCode === null) await stopServer(server);
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: cert }, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function post(url: string, body: string): Promise<{ status: number; cookie: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: cert, method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, cookie: String(res.headers["set-cookie"] ?? "") }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("the WebServer over HTTPS (webUI.tls)", () => {
  it("serves the dashboard and the API over TLS, and says https:// wherever it gives its address", async () => {
    const config = join(dir, "xiaozhi.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        mcpEndpoint: [],
        webUI: { tls: { cert: "cert.pem", key: "key.pem" }, authToken: "tls-bearer-token-0123456789" },
      }),
    );
    server = await runServer(["--config", config, "--port", "0"], env);
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const status = await get(`${server.url}api/status`);
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body).config.path).toBe(config);
    expect((await get(server.url)).body).toMatch(/<title>xiaozhi-connect<\/title>/);
    // Over TLS a login's cookie is Secure: it never travels in the clear.
    const login = await post(
      `${server.url}api/login`,
      JSON.stringify({ secret: "tls-bearer-token-0123456789" }),
    );
    expect(login.status).toBe(204);
    expect(login.cookie).toMatch(/; Secure/);
    // The command line finds it at its https:// address, trusting the certificate as told.
    const listed = spawnSync(process.execPath, [main, "status", "--config", config], {
      env: { ...env, NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/https:\/\/127\.0\.0\.1:\d+\//);
    expect(await stopServer(server)).toBe(0);
  });

  it("refuses to start with a certificate it cannot read, naming the field and the file", () => {
    const config = join(dir, "broken.config.json");
    writeFileSync(
      config,
      JSON.stringify({ mcpEndpoint: [], webUI: { tls: { cert: "cert.pem", key: "missing.pem" } } }),
    );
    const started = spawnSync(process.execPath, [main, "--config", config, "--port", "0"], {
      env,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(started.status).toBe(1);
    expect(started.stderr + started.stdout).toMatch(/webUI\.tls\.key: cannot read .*missing\.pem: ENOENT/);
  });
});
