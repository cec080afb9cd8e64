import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** What the command line and environment ask for. */
export interface CliOptions {
  readonly config?: string;
  readonly port?: number;
  readonly host?: string;
  readonly help: boolean;
  readonly version: boolean;
}

export const usage = `Usage: xiaozhi-connect [--config FILE] [--port N] [--host ADDRESS]

Connects the MCP tools in xiaozhi.config.json to every Xiaozhi endpoint it lists, keeps the links
alive, and serves a dashboard and an HTTP API. Without any config it starts a demo.

Options:
  --config FILE    config file (else $XIAOZHI_CONFIG, $XIAOZHI_CONFIG_DIR/xiaozhi.config.json,
                   ./xiaozhi.config.json, ~/.xiaozhi-client/xiaozhi.config.json)
  --port N         HTTP port (else $XIAOZHI_PORT, webUI.port, 9999; 0 picks a free one)
  --host ADDRESS   bind address (else $XIAOZHI_HOST, webUI.host, 127.0.0.1). Beyond loopback,
                   changes and the event stream need a bearer token: webUI.authToken,
                   $XIAOZHI_TOKEN, or one generated and printed at start.
  --help, --version
`;

/** Parses flags and the XIAOZHI_* variables; flags win. Throws with a clear message on bad input. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", short: "v", default: false },
    },
    strict: true,
  });
  const portText = values.port ?? env.XIAOZHI_PORT;
  let port: number | undefined;
  if (portText !== undefined && portText !== "") {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`port must be an integer from 0 to 65535, got "${portText}"`);
    }
  }
  const config = values.config ?? (env.XIAOZHI_CONFIG || undefined);
  const host = values.host ?? (env.XIAOZHI_HOST || undefined);
  return {
    ...(config === undefined ? {} : { config }),
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

/** Where a config was looked for, and the one found. */
export interface ConfigLookup {
  readonly path?: string;
  readonly searched: readonly string[];
}

/**
 * Finds the config in the documented order. An explicitly named file (`--config`,
 * `$XIAOZHI_CONFIG`) must exist; otherwise the first existing candidate wins, or none (demo mode).
 */
export function findConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
  home = env.HOME || homedir(),
): ConfigLookup {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new Error(`config file not found: ${path}`);
    return { path, searched: [path] };
  }
  const candidates = [
    ...(env.XIAOZHI_CONFIG_DIR ? [join(resolve(cwd, env.XIAOZHI_CONFIG_DIR), "xiaozhi.config.json")] : []),
    join(cwd, "xiaozhi.config.json"),
    join(home, ".xiaozhi-client", "xiaozhi.config.json"),
  ];
  const path = candidates.find((candidate) => existsSync(candidate));
  return { ...(path === undefined ? {} : { path }), searched: candidates };
}

const loopback = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return loopback.has(host) || host.startsWith("127.");
}
