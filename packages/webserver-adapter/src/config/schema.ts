import { XiaozhiError } from "@xiaozhi-connect/core";
import { z } from "zod";
import { mcpClientsSchema } from "./clients.js";
import { type ConfigFormat, parseText } from "./config-text.js";
import { resolveEnvRefs } from "./env-refs.js";

const positiveMs = z.number().int().positive();

/** Largest tool-result message in bytes: 0 (no limit) or at least 512, room for a cut result's note. */
const resultBytes = z
  .number()
  .int()
  .refine((value) => value === 0 || value >= 512, "must be 0 (no limit) or at least 512 bytes");

const endpointObject = z.object({
  url: z.string(),
  /** The agent's name as the page, the API, the logs and the metrics show it. */
  name: z.string().max(120).optional(),
  weight: z.number().positive().optional(),
  services: z.array(z.string()).optional(),
  tools: z.array(z.string()).optional(),
  /** More tools than this given to the agent is warned about (log, status, dashboard); default 25. */
  maxTools: z.number().int().nonnegative().optional(),
  /** This agent's largest tool-result message in bytes; default `connection.maxResultBytes`. */
  maxResultBytes: resultBytes.optional(),
});

/**
 * A service's `type` as xiaozhi-client reads it: any case, with or without `-`/`_`
 * (`SSE`, `streamableHttp`, `streamable_http`), in its one spelling here.
 */
const spelledType = <const T extends readonly [string, ...string[]]>(types: T) =>
  z
    .preprocess((value) => {
      if (typeof value !== "string") return value;
      const key = value.toLowerCase().replace(/[-_]/g, "");
      return types.find((type) => type.replace(/-/g, "") === key) ?? value;
    }, z.enum(types))
    .optional();

const stdioService = z.object({
  type: spelledType(["stdio"]),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  /** Longest line the service may write to stdout, in bytes; default 8 MiB. */
  maxLineBytes: z.number().int().positive().optional(),
  /** Start, initialize and tools/list must finish within this (ms); default 30000. */
  handshakeTimeout: positiveMs.optional(),
});

const remoteService = z.object({
  type: spelledType(["sse", "streamable-http", "http"]),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  headers: z.record(z.string(), z.string()).optional(),
  /** Connect, initialize and tools/list must finish within this (ms); default 30000. */
  handshakeTimeout: positiveMs.optional(),
});

/** A replica's `weight` as its strategy reads it (a candidate's share, relative to the others'); default 1. */
const replicaWeight = { weight: z.number().positive().optional() };
const stdioReplica = stdioService.extend(replicaWeight);
const remoteReplica = remoteService.extend(replicaWeight);

const replica = z.union([stdioReplica, remoteReplica], {
  error: "needs either `command` (stdio) or `url` (SSE / streamable HTTP)",
});

const service = z.union(
  [
    z.object({
      replicas: z.array(replica).min(1),
      strategy: z.string().optional(),
      handshakeTimeout: positiveMs.optional(),
    }),
    stdioService,
    remoteService,
  ],
  { error: "needs `command` (stdio), `url` (SSE / streamable HTTP) or `replicas`" },
);

/** The `connection` block: xiaozhi-client's fields plus the optional new ones. */
const connection = z.object({
  /** WebSocket ping period (ms); default 30000. */
  heartbeatInterval: positiveMs.optional(),
  /** No pong within this ends the link (ms); default 10000. */
  heartbeatTimeout: positiveMs.optional(),
  /** First reconnect delay ceiling (ms); default 1000. Doubles per attempt with full jitter. */
  reconnectInterval: positiveMs.optional(),
  /** Give up after this many attempts in a row; default unlimited. */
  maxReconnectAttempts: z.number().int().nonnegative().optional(),
  /** An attempt not connected by then is abandoned (ms); default 10000. */
  connectionTimeout: positiveMs.optional(),
  /** Reconnect after drops; default true. */
  autoReconnect: z.boolean().optional(),
  /** Cap of the reconnect delay (ms); default 60000. */
  maxReconnectInterval: positiveMs.optional(),
  /** A link up this long resets its attempt counter (ms); default 10000. */
  minUptime: positiveMs.optional(),
  /** Tool-call deadline (ms); default 300000. */
  callTimeout: positiveMs.optional(),
  /** Largest tool-result message sent to an agent, in bytes; larger results are cut. Default 8192; 0: no limit. */
  maxResultBytes: resultBytes.optional(),
  /**
   * When one endpoint on a host reconnects (or the host answers a probe), the others on that host
   * waiting to retry do so within this window (ms), spread; 0 turns it off. Default 2000.
   */
  recoveryWindow: z.number().int().nonnegative().optional(),
  /**
   * While every endpoint of a host is refused, its host is probed with a TCP connect this often
   * (ms), and they retry as soon as it answers; 0 turns it off. Default 500.
   */
  probeInterval: z.number().int().nonnegative().optional(),
  /** First connects under way at once (at start and for added endpoints); 0: no limit. Default 200. */
  connectConcurrency: z.number().int().nonnegative().optional(),
  /** After a rejected token, a `failed` endpoint tries again this often (ms, ±20%); 0: never. Default 300000. */
  authRetryInterval: z.number().int().nonnegative().optional(),
  /** Strategy for operations sent to "any healthy endpoint"; default `round-robin`. */
  loadBalanceStrategy: z.string().optional(),
  /**
   * How agents learn that their tools changed: `auto` (list_changed, then a reconnect when the
   * agent does not re-list), `notify` (list_changed only) or `reconnect` (always both).
   */
  toolsChanged: z.enum(["auto", "notify", "reconnect"]).optional(),
  /** An agent's tools/list waits up to this long for services still starting (ms); default 5000. */
  toolsWait: z.number().int().nonnegative().optional(),
  /** A crashed service keeps its tools listed while it restarts, up to this long (ms); default 30000. */
  toolsHold: z.number().int().nonnegative().optional(),
  /** `auto`: how long an agent has to re-list after list_changed (ms); default 2000. */
  relistGrace: positiveMs.optional(),
  /** Republishes per endpoint: five at once, then one per this many ms; default 10000. */
  republishInterval: positiveMs.optional(),
  /** `maxTools` of endpoints that set none: more tools given to an agent is warned about; default 25. */
  maxTools: z.number().int().nonnegative().optional(),
});

/**
 * `xiaozhi.config.json`, as xiaozhi-client writes it, with the optional fields xiaozhi-connect
 * adds. Unknown top-level fields (other tools' settings) are kept as they are.
 */
export const xiaozhiConfigSchema = z.looseObject({
  mcpEndpoint: z
    .union([z.string(), z.array(z.union([z.string(), endpointObject]))], {
      error:
        "must be a URL, or a list of URLs and {url, name?, weight?, services?, tools?, maxTools?, maxResultBytes?} objects",
    })
    .optional(),
  mcpServers: z.record(z.string(), service).optional(),
  mcpServerConfig: z
    .record(
      z.string(),
      z.looseObject({
        tools: z
          .record(
            z.string(),
            z.looseObject({
              enable: z.boolean().optional(),
              /** The tool's own call deadline (ms); `connection.callTimeout` still bounds it. */
              timeout: positiveMs.optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
  connection: connection.optional(),
  /**
   * xiaozhi-client's tools served by a handler instead of a service (a service's tool under the
   * user's name, proxy to Coze, http). Entries are not checked here: as xiaozhi-client skips a
   * malformed one, it is listed as unavailable with the reason, and the rest of the file runs.
   */
  customMCP: z.looseObject({ tools: z.array(z.unknown()).optional() }).optional(),
  /** Credentials of platforms custom tools call: `platforms.coze.token`. */
  platforms: z.record(z.string(), z.looseObject({ token: z.string().optional() })).optional(),
  /** `modelscope.apiKey`: sent as a bearer token to ModelScope-hosted services. */
  modelscope: z.looseObject({ apiKey: z.string().optional() }).optional(),
  /** Health scoring and ejection (see @xiaozhi-connect/health); every field optional. */
  health: z
    .looseObject({
      consecutiveFailures: z.number().int().positive().optional(),
      baseEjectionTime: positiveMs.optional(),
      maxEjectionTime: positiveMs.optional(),
      maxEjectionShare: z.number().min(0).max(1).optional(),
      staleAfter: positiveMs.optional(),
    })
    .optional(),
  /**
   * Cluster mode: several instances share the endpoints through Redis (leases, one endpoint list).
   * Without it nothing uses Redis.
   */
  cluster: z
    .strictObject({
      /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
      redis: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }),
      /** Unique per instance; default `<host>-<pid>`. */
      instanceId: z
        .string()
        .regex(
          /^[A-Za-z0-9._:-]{1,100}$/,
          "must be 1-100 letters, digits, dots, dashes, colons or underscores",
        )
        .optional(),
      /** How long a lease outlives its holder, in ms (default 15000). */
      leaseTtl: z.number().int().min(1000).max(600_000).optional(),
      /** The Redis key prefix: instances sharing it form one cluster (default `xiaozhi-connect`). */
      namespace: z
        .string()
        .regex(
          /^[A-Za-z0-9._:-]{1,100}$/,
          "must be 1-100 letters, digits, dots, dashes, colons or underscores",
        )
        .optional(),
    })
    .optional(),
  /**
   * Third-party strategies the `xiaozhi-connect` command loads at start, by name: a module (a path
   * relative to the config file, `./…`, or an absolute one) whose default export makes one. A name
   * is then used as a built-in one (`connection.loadBalanceStrategy`, a service's `strategy`).
   */
  strategies: z
    .record(
      z
        .string()
        .regex(
          /^[a-z0-9]+(?:-[a-z0-9]+)*$/,
          'names are kebab-case (lowercase letters and digits joined by "-"), like "least-inflight"',
        ),
      z.string().min(1, "must name a module file: ./strategies/mine.mjs, ./node_modules/<package>/…"),
    )
    .optional(),
  /** MCP clients (editors, desktop assistants) served on `/mcp`; without any, the route is off. */
  clients: mcpClientsSchema,
  webUI: z
    .looseObject({
      port: z.number().int().min(0).max(65535).optional(),
      host: z.string().optional(),
      /** Host names, besides loopback names and the bound address, that requests may be addressed to. */
      allowedHosts: z.array(z.string().min(1)).optional(),
      /** Bearer token for mutating routes and the event stream (every route beyond loopback). */
      authToken: z.string().min(16, "must be at least 16 characters").optional(),
      /** The login page's password, as `xiaozhi-connect password` writes it: a scrypt hash. */
      password: z
        .string()
        .regex(
          /^scrypt:\d+:\d+:\d+:[\w-]+:[\w-]+$/,
          "must be a password hash: set it with `xiaozhi-connect password`",
        )
        .optional(),
      /** HTTPS: PEM certificate and key files, relative to the config file. Read at start. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /** A token that opens `/metrics` only, for a scraper. */
      metricsToken: z.string().min(16, "must be at least 16 characters").optional(),
    })
    .optional(),
});

export type XiaozhiConfig = z.infer<typeof xiaozhiConfigSchema>;
export type ConnectionConfig = NonNullable<XiaozhiConfig["connection"]>;

/**
 * Validates a parsed config, `${NAME}` references resolved from `env` first (see `env-refs.ts`).
 * Throws `INVALID_CONFIG` naming every wrong field and why, e.g. `connection.heartbeatInterval:
 * expected number, received string`, or a variable that is not set. Secrets never appear.
 */
export function parseConfig(
  value: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): XiaozhiConfig {
  const resolved = resolveEnvRefs(value, env);
  const result = xiaozhiConfigSchema.safeParse(resolved);
  if (result.success) return result.data;
  const problems = problemsOf(result.error.issues, resolved);
  throw new XiaozhiError("INVALID_CONFIG", `invalid config: ${problems.join("; ")}`);
}

/**
 * Each issue as `path: why`. Where a value fits none of a field's shapes (a service is stdio,
 * remote or replicated), the one shape whose required fields it has says what is wrong with it:
 * `args: expected array, received string` rather than that the service needs a `command`.
 */
function problemsOf(issues: readonly z.core.$ZodIssue[], root: unknown, base: PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    const at = [...base, ...issue.path];
    // A record's key: what is wrong with it rather than zod's "Invalid key in record".
    if (issue.code === "invalid_key") return problemsOf(issue.issues, root, at);
    if (issue.code === "invalid_union") {
      const value = at.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown>)?.[key], root);
      const has = (issue: z.core.$ZodIssue) =>
        issue.path.length !== 1 ||
        (typeof value === "object" && value !== null && Object.hasOwn(value, issue.path[0] as PropertyKey));
      const fitting = issue.errors.filter((option) => option.every(has));
      if (fitting.length === 1) return problemsOf(fitting[0] as z.core.$ZodIssue[], root, at);
    }
    const path = at.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
    return [`${path.replace(/^\./, "") || "(root)"}: ${issue.message}`];
  });
}

/**
 * Parses the text of a config file (`format` from its extension: JSON and JSONC may carry comments;
 * JSON5 too). Bad syntax (with its line and column) and schema errors both throw `INVALID_CONFIG`.
 */
export function parseConfigText(text: string, format: ConfigFormat = "json"): XiaozhiConfig {
  return parseConfig(parseText(text, format));
}

/** A field of a config that nothing reads, and the known field it most likely meant. */
export interface UnknownField {
  /** As config errors name fields: `mcpServer`, `connection.heartbeatIntervall`. */
  readonly path: string;
  /** The known field one or two letters away, when there is one. */
  readonly meant?: string;
  /** Set when xiaozhi-client reads the field, for a feature of its own (speech, models, its call log). */
  readonly xiaozhiClient?: true;
}

/** Top-level fields xiaozhi-client reads for features xiaozhi-connect does not have. */
const xiaozhiClientOnly = new Set(["asr", "tts", "llm", "toolCallLog"]);

/**
 * The fields of a parsed config (before validation) that the WebServer does not read, at the top,
 * in `connection` and in a service's replicas: a typo there (`mcpServer`, `heartbeatIntervall`,
 * `wieght`) is otherwise ignored in silence, the service or setting it was for simply missing.
 */
export function unknownFields(value: unknown): UnknownField[] {
  const found: UnknownField[] = [];
  const look = (object: unknown, known: readonly string[], prefix: string) => {
    if (typeof object !== "object" || object === null || Array.isArray(object)) return;
    for (const key of Object.keys(object)) {
      // `$schema` is for editors, which may check the file against one.
      if (known.includes(key) || key === "$schema") continue;
      if (prefix === "" && xiaozhiClientOnly.has(key)) {
        found.push({ path: key, xiaozhiClient: true });
        continue;
      }
      const meant = nearest(key, known);
      found.push({ path: `${prefix}${key}`, ...(meant === undefined ? {} : { meant: `${prefix}${meant}` }) });
    }
  };
  look(value, Object.keys(xiaozhiConfigSchema.shape), "");
  look((value as { connection?: unknown } | null)?.connection, Object.keys(connection.shape), "connection.");
  const services = (value as { mcpServers?: unknown } | null)?.mcpServers;
  for (const [name, service] of Object.entries(isObject(services) ? services : {})) {
    const replicas = isObject(service) ? service.replicas : undefined;
    if (!Array.isArray(replicas)) continue;
    replicas.forEach((entry, i) => {
      // The shape the entry takes: a stdio replica's `url` is as unread as a remote one's `command`.
      const has = (key: string) => isObject(entry) && Object.hasOwn(entry, key);
      const shapes = has("command")
        ? [stdioReplica]
        : has("url")
          ? [remoteReplica]
          : [stdioReplica, remoteReplica];
      const known = [...new Set(shapes.flatMap((shape) => Object.keys(shape.shape)))];
      look(entry, known, `mcpServers.${name}.replicas[${i}].`);
    });
  }
  return found;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The known field `key` most likely meant: the nearest within two edits (a letter added, dropped or
 * changed, or two neighbours swapped); for a key of four letters or fewer, one edit that is not a
 * changed letter, which in a name that short leaves too little in common (`cmd` is not `cwd`).
 */
function nearest(key: string, known: readonly string[]): string | undefined {
  const short = key.length <= 4;
  let best: string | undefined;
  let least = short ? 2 : 3;
  for (const field of known) {
    const distance = editDistance(key.toLowerCase(), field.toLowerCase(), short ? 2 : 1);
    if (distance < least) [best, least] = [field, distance];
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit and a changed letter as `change`. */
function editDistance(a: string, b: string, change: number): number {
  const rows = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const [above, row] = [rows[i - 1] as number[], [i]];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : change),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}
