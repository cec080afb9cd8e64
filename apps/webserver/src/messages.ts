import { XiaozhiError } from "@xiaozhi-connect/core";
import type { UnknownField } from "@xiaozhi-connect/webserver-adapter";
import type { Locale } from "./locale.js";
import { zhCN } from "./messages-zh-cn.js";
import { asIs, type Explain } from "./reasons.js";

const configOf = (path: string | null) => path ?? "demo mode";

/** Everything the command line says, in English; `messages-zh-cn.ts` has the same in 简体中文. */
export const en = {
  /** The server's texts (reasons, refusals) in this language; the command sets it (see `reasons.ts`). */
  explain: asIs as Explain,
  help: {
    description: "Connects your MCP tools to many Xiaozhi agents at once and keeps every link alive.",
    version: "print the version",
    help: "show help for a command",
    helpCommand: "show help for a command",
    config: "config file (else the lookup: see `xiaozhi-connect config path`)",
    lang: "language of the command line: en or zh-CN (else LC_ALL, LC_MESSAGES, LANG)",
    addHelp: "(--help shows the usage)",
    usageOptions: "[options]",
    usageCommand: "[command]",
    titles: {
      usage: "Usage:",
      options: "Options:",
      commands: "Commands:",
      arguments: "Arguments:",
      globalOptions: "Global Options:",
    },
    byDefault: (value: string) => ` (default: ${value})`,
    port: "HTTP port (else $XIAOZHI_PORT, webUI.port, 9999; 0 picks a free one)",
    host: "bind address (else $XIAOZHI_HOST, webUI.host, 127.0.0.1)",
    logSize: "with -d: rotate the log file at this size (e.g. 10M, 500K)",
    logFiles: "with -d: old log files kept",
    debug: "log at debug level (as XIAOZHI_LOG_LEVEL=debug)",
    start: "start the WebServer (in the foreground; -d to run it in the background)",
    daemon: "run in the background: a pid file, a rotated log file, back once ready",
    stop: "stop the server of this config (gracefully; killed after the timeout)",
    timeout: "how long to wait before killing it, in seconds",
    restart: "stop the server of this config and start it in the background",
    status: "whether the server of this config runs, and its endpoints and services",
    json: "print JSON",
    logs: "print the log of the server started with -d, as readable lines",
    lines: "how many lines from the end",
    page: "which page of endpoints to show",
    perPage: "endpoints per page (1 to 1000)",
    stateFilter: "only endpoints in these states, comma-separated (connected, reconnecting, failed, …)",
    follow: "keep printing new lines until Ctrl-C",
    rawJson: "print the log's JSON lines as they are",
    endpoint: "list, add, remove or reconnect Xiaozhi endpoints",
    endpointList: "every endpoint, masked (live from the server, else from the config file)",
    endpointAdd: "add an endpoint (connected at once when the server runs) and save it",
    name: "the agent's name, shown in the dashboard, the logs and the metrics",
    endpointRemove: "remove an endpoint (closed at once when the server runs) and save it",
    endpointReconnect: "drop and reopen one endpoint's link now",
    service: "the MCP services behind the tools",
    serviceList: "every service with its state and why it is down",
    tool: "list the tools, or switch one on or off",
    toolList: "every tool with its service and whether it is enabled",
    client: "MCP clients (editors, desktop assistants) allowed on the server's /mcp",
    clientAdd: "add an MCP client and print its token (shown once)",
    clientList: "MCP clients and their limits (never their tokens)",
    clientRemove: "remove an MCP client: its token stops working",
    clientServices: "only the tools of these services (comma-separated)",
    clientTools: "only these tools, as <service>__<tool> (comma-separated)",
    stdio: "serve the running server's tools on stdin/stdout, for MCP clients that start a command",
    stdioClient: "the client whose token to use (needed when several are configured)",
    token: "print the running server's bearer token (printed once at start, never logged)",
    password: "set the login page's password (read without echo, or from stdin), kept as a hash",
    passwordRemove: "remove the password: only the token signs in",
    toolService: "only the tools of this service",
    toolEnable: "enable a tool (<service>__<tool>); applied live and saved",
    toolDisable: "disable a tool (<service>__<tool>); applied live and saved",
    config_: "where the config is, whether it is valid, a starter",
    configPath: "which config file the lookup picks, and why",
    configCheck: "validate a config file (default: the one the lookup picks); exit 1 naming each bad field",
    configInit: "write a starter config where the lookup would find it",
    force: "overwrite an existing file",
  },
  errors: {
    badLanguage: (value: string) => `the command line speaks en and zh-CN, got "${value}"`,
    badPort: (value: string) => `port must be an integer from 0 to 65535, got "${value}"`,
    badCount: (value: string) => `expected a whole number, got "${value}"`,
  },
  /** commander's own error lines, matched and said again; English needs none. */
  commanderErrors: [] as readonly (readonly [RegExp, (...parts: string[]) => string])[],
  /** Plain errors from the lower layers, matched and said again. */
  plainErrors: [] as readonly (readonly [RegExp, (...parts: string[]) => string])[],
  /**
   * Whether an error is said with its code's words first. The detail is English: a translation
   * says what went wrong before it, English needs nothing more.
   */
  prefixCodes: false,
  /** The words for the product's error codes; the message that follows gives the detail. */
  errorCodes: {
    INVALID_ENDPOINT: "invalid endpoint",
    DUPLICATE_ENDPOINT: "duplicate endpoint",
    UNKNOWN_ENDPOINT: "unknown endpoint",
    UNKNOWN_TOOL: "unknown tool",
    UNKNOWN_SERVICE: "unknown service",
    DUPLICATE_SERVICE: "duplicate service",
    BAD_REQUEST: "bad request",
    PAYLOAD_TOO_LARGE: "request too large",
    UNAUTHORIZED: "a valid token is needed",
    FORBIDDEN_ORIGIN: "cross-site request refused",
    FORBIDDEN_HOST: "host name refused",
    INVALID_CONFIG: "invalid config",
    UNKNOWN_STRATEGY: "unknown strategy",
    UNSUPPORTED_MEDIA_TYPE: "send JSON",
    CLUSTER_UNAVAILABLE: "the cluster's Redis is out of reach",
    CLUSTER_OUTCOME_UNKNOWN:
      "Redis did not confirm the change in time: it may still apply, and trying again is safe",
    NOT_FOUND: "not found",
    METHOD_NOT_ALLOWED: "method not allowed",
    INTERNAL: "internal error",
  },
  states: {
    connected: "connected",
    connecting: "connecting",
    reconnecting: "reconnecting",
    republishing: "republishing tools",
    awaitingAgent: "connected, waiting for an agent",
    disconnected: "disconnected",
    failed: "failed",
    stopped: "stopped",
    running: "running",
    up: "up",
    down: "down",
    starting: "starting",
    "not running": "not running",
  },
  sources: {
    "--config": "--config",
    $XIAOZHI_CONFIG: "$XIAOZHI_CONFIG",
    $XIAOZHI_CONFIG_DIR: "$XIAOZHI_CONFIG_DIR",
    "current directory": "current directory",
    "xiaozhi-client's home": "xiaozhi-client's home",
  },
  tables: {
    given: "TOOLS GIVEN",
    overMax: (max: number) => `(over maxTools ${max})`,
    id: "ID",
    agent: "AGENT",
    agentNumbered: (id: string) => `agent ${id}`,
    url: "URL",
    state: "STATE",
    instance: "INSTANCE",
    health: "HEALTH",
    rtt: "RTT",
    lastError: "LAST ERROR",
    none: "(none)",
    address: "ADDRESS",
    endpoints: "ENDPOINTS",
    heartbeat: "LAST HEARTBEAT",
    thisOne: "(this one)",
    secondsAgo: (seconds: string) => `${seconds} s ago`,
    ago: (ms: number) =>
      ms < 60_000
        ? `${Math.round(ms / 1000)} s ago`
        : ms < 3_600_000
          ? `${Math.round(ms / 60_000)} min ago`
          : `${Math.round(ms / 3_600_000)} h ago`,
    withAge: (error: string, ago: string) => `${error} (${ago})`,
    service: "SERVICE",
    tools: "TOOLS",
    restarts: "RESTARTS",
    whyDown: "WHY DOWN",
    tool: "TOOL",
    enabled: "ENABLED",
    description: "DESCRIPTION",
    yes: "yes",
    no: "no",
    unavailable: "unavailable",
    source: "SOURCE",
    path: "PATH",
  },
  server: {
    overBudget: (agent: string, tools: number, max: number) =>
      `warning: ${agent} is given ${tools} tools, more than maxTools ${max}; many tools make agents pick worse and can hang a self-hosted server. Switch some off (xiaozhi-connect tool disable NAME) or give the endpoint a services/tools filter`,
    alreadyRunning: (pid: number, url: string) =>
      `already running for this config (pid ${pid}, ${url}); a server of another config can run beside it`,
    notUpWithin: (seconds: number, log: string) => `did not come up within ${seconds} s; see ${log}`,
    exitedEarly: (how: string, log: string) => `exited (${how}) before it was ready; see ${log}`,
    couldNotStart: (why: string) => `could not start: ${why}`,
    inBackground: (pid: number, log: string, stop: string) =>
      `running in the background (pid ${pid}); logs: ${log}; stop it with: ${stop}`,
    killing: (seconds: number) => `still running after ${seconds} s; killing it`,
    stopped: (pid: number, config: string | null) => `stopped (pid ${pid}, config ${configOf(config)})`,
    demoBanner: (searched: readonly string[]) => [
      "xiaozhi-connect: DEMO MODE. No xiaozhi.config.json was found, so this runs three simulated",
      "  Xiaozhi agents on 127.0.0.1 (one of them flaky) and built-in demo tools (calculator, clock).",
      `  Looked in: ${searched.join(", ")}`,
      '  To connect real agents, create xiaozhi.config.json with {"mcpEndpoint": ["wss://api.xiaozhi.me/mcp/?token=…"]}',
      "  and your mcpServers, or pass --config FILE (xiaozhi-connect config init writes a starter).",
    ],
    generatedToken: [
      "xiaozhi-connect: bound beyond loopback; every page and route needs a sign-in with a token or your password.",
      "  The dashboard link below carries the token (after #token=, which never reaches the server); `xiaozhi-connect token` prints it again.",
    ],
    noEndpoints: (skipped: number) =>
      skipped
        ? ` (mcpEndpoint has no usable URL: ${skipped} placeholder or invalid entr${skipped > 1 ? "ies" : "y"} skipped)`
        : " (mcpEndpoint is empty: add your agents' endpoint URLs)",
    ready: (r: {
      url: string;
      connected: number;
      total: number;
      why: string;
      tools: number;
      starting: number;
      config: string | null;
    }) =>
      `xiaozhi-connect ready: dashboard ${r.url} · endpoints ${r.connected}/${r.total} connected${r.why} · ${r.tools} tool${r.tools === 1 ? "" : "s"}${r.starting ? ` (${r.starting} service${r.starting > 1 ? "s" : ""} still starting)` : ""} · config ${configOf(r.config)}`,
    portInUse: (host: string, port: number) =>
      `port ${port} on ${host} is in use (another xiaozhi-connect? see: xiaozhi-connect status); pick another with --port, or 0 for any free one`,
    noLog: (path: string) => `no log file at ${path} (logs are written by: xiaozhi-connect start -d)`,
    stoppedFor: (word: string, config: string | null) =>
      `xiaozhi-connect is ${word} · config ${configOf(config)}`,
    notRunningFor: (config: string | null) => `xiaozhi-connect is not running for config ${configOf(config)}`,
    otherServer: (pid: number, url: string, config: string | null) =>
      `  running for another config: pid ${pid}, ${url}, config ${configOf(config)}${config ? ` (add --config ${config})` : ""}`,
    runningLine: (word: string, pid: number, url: string, version: string) =>
      `xiaozhi-connect ${word} · pid ${pid} · ${url} · version ${version}`,
    configLine: (config: string | null) => `config ${configOf(config)}`,
    rejected: (error: string) => ` · rejected: ${error}`,
    restartNeeded: (blocks: readonly string[]) =>
      `  changed, applies when the server restarts (xiaozhi-connect restart): ${blocks.join(", ")}`,
    clusterLine: (instance: string, redis: string) => `cluster: instance ${instance} · Redis ${redis}`,
    redisAway: " · out of reach: keeping what this instance holds",
    endpointSummary: (connected: number, total: number, others: string) =>
      `endpoints ${connected}/${total} connected${others}`,
    pageLine: (from: number, to: number, total: number, next: number | undefined) =>
      total === 0
        ? "no endpoint matches"
        : `showing ${from}–${to} of ${total}${next === undefined ? "" : `; more: --page ${next}`}`,
  },
  auth: {
    noServer: "No xiaozhi-connect server is running for this config.",
    noToken: "This server needs no token: it listens on loopback only and no webUI.authToken is set.",
    prompt: "New password: ",
    tooShort: (min: number) => `The password must be at least ${min} characters.`,
    set: "Password set. The server asks for it on the login page once it starts.",
    setRestart: "Password set. Restart the server to use it (xiaozhi-connect restart).",
    removed: "Password removed. Restart a running server for it to apply.",
  },
  clients: {
    added: (name: string, token: string, url: string) => [
      `Added MCP client "${name}". Its token, shown only this once:`,
      "",
      `  ${token}`,
      "",
      `Point the client at ${url}mcp with the header "Authorization: Bearer <token>",`,
      `or let it start \`xiaozhi-connect stdio --client ${name}\`. The README has snippets.`,
    ],
    none: "No MCP clients are configured. Add one with `xiaozhi-connect client add NAME`.",
    removed: (name: string) => `Removed MCP client "${name}".`,
    unknown: (name: string) => `There is no MCP client "${name}".`,
    duplicate: (name: string) => `There is already an MCP client "${name}".`,
    all: "all tools",
    name: "CLIENT",
    limits: "TOOLS",
    noServer:
      "No xiaozhi-connect server is running for this config, so there are no tools to serve. Start it first: `xiaozhi-connect start -d`.",
    which: (names: readonly string[]) =>
      `Several MCP clients are configured (${names.join(", ")}): choose one with --client NAME.`,
  },
  manage: {
    noServerNoConfig: "no server is running and no config file was found (try: xiaozhi-connect config init)",
    unreachable: (url: string, why: string) => `cannot reach the server at ${url}: ${why}`,
    httpStatus: (status: number) => `the server answered HTTP ${status}`,
    noEndpoint: (id: string) => `no endpoint ${id}`,
    noEndpointNamed: (name: string) =>
      `no endpoint is named "${name}": give its id or URL (xiaozhi-connect endpoint list shows them)`,
    severalNamed: (name: string, ids: readonly string[]) =>
      `${ids.length} endpoints are named "${name}": give the id of the one you mean (${ids.join(", ")})`,
    clustered:
      "this config runs in cluster mode: the endpoint list lives in Redis, and the file's mcpEndpoint only seeds an empty cluster. Start an instance (xiaozhi-connect start -d) and run this again: the change then applies to every instance",
    reconnectNeedsServer: "reconnect needs a running server (xiaozhi-connect start -d)",
    toolName: (separator: string, name: string) =>
      `tool names are <service>${separator}<tool>, got "${name}"`,
    noConfigFound: "no config file was found (xiaozhi-connect config init writes one)",
    unreadable: (code: string) => `cannot read it: ${code}`,
    skipped: (endpoint: string, reason: string) => `skipped ${endpoint}: ${reason}`,
    unknownField: ({ path, meant, xiaozhiClient }: UnknownField) =>
      xiaozhiClient
        ? `${path} is xiaozhi-client's own setting (speech, models, its call log): it is not used here`
        : `${path} is not a field xiaozhi-connect reads: it is ignored${meant ? ` (did you mean ${meant}?)` : ""}`,
    readableByOthers: (mode: number, path: string) =>
      `other users of this machine (its group or all) can read the file (mode ${mode.toString(8).padStart(3, "0")}), and it holds tokens: chmod 600 ${path}`,
    noUsableEndpoint:
      "no usable endpoint in mcpEndpoint: nothing would connect. Put your agents' endpoint URLs there (xiaozhi.me console → your agent → MCP endpoint)",
    toolUnavailable: (name: string, reason: string) => `custom tool ${name} is unavailable: ${reason}`,
    straySwitch: (path: string, why: string) => `${path} switches nothing: ${why}`,
    noSuchService: "no service of that name in mcpServers",
    noSuchCustomTool: "no customMCP tool of that name",
    counts: (endpoints: number, services: number) => `${endpoints} endpoint(s), ${services} service(s)`,
    nowhereToWrite: "nowhere to write a config",
    exists: (path: string) => `${path} exists already (use --force to overwrite it)`,
    noEndpoints: "no endpoints",
    added: (id: string, name: string | undefined, url: string, state: string) =>
      `added ${id}${name ? ` (${name})` : ""} ${url} (${state})`,
    refused: (why: string) =>
      `the agent refused this endpoint${why ? `: ${why}` : ""}. It is saved; check its token (xiaozhi-connect endpoint remove ID takes it out)`,
    removed: (id: string | undefined) => `removed ${id ?? "the endpoint"}`,
    reconnecting: (id: string) => `reconnecting ${id}`,
    noneFound: "none found: the server would start in demo mode",
    checked: (path: string, summary: string, warnings: number) =>
      `${path}: ok (${summary})${warnings ? `, with ${warnings} warning${warnings > 1 ? "s" : ""}` : ""}`,
    warning: "warning: ",
    separator: "; ",
    wrote: (path: string) =>
      `wrote ${path}; put your endpoint URLs in mcpEndpoint and your services in mcpServers`,
    noServices: "no services",
    noTools: "no tools",
    enabled: (name: string) => `enabled ${name}`,
    disabled: (name: string) => `disabled ${name}`,
  },
  habits: {
    ours: (command: string) => `(xiaozhi-client's command; here it is: ${command})`,
    mcp: "xiaozhi-client's mcp commands: list, server, tool, call",
    mcpList: "the services (with --tools, the tools): as service list / tool list",
    mcpListTools: "list the tools instead",
    mcpServer: "one service's tools: as tool list --service NAME",
    mcpTool: "switch a tool on or off: as tool enable|disable SERVICE__TOOL",
    enableOrDisable: (action: string) => `the action is enable or disable, got "${action}"`,
    mcpCall: "xiaozhi-client's mcp call: answered with what to do instead",
    mcpCallArgs: "the tool's arguments as JSON",
    mcpCallAnswer: (tool: string | undefined) =>
      `xiaozhi-connect has no command that calls a tool: agents call ${tool ?? "the tools"}, and so can an MCP client you allow (xiaozhi-connect client add NAME, then point it at the server's /mcp or have it start xiaozhi-connect stdio)`,
    attach: "follow the background server's log: as logs -f",
    service: (command: string) => `xiaozhi-client's service ${command}: as ${command}`,
    stdioAnswer:
      "xiaozhi-connect has no start --stdio: have the MCP client start xiaozhi-connect stdio [--client NAME], which serves the running server's tools on stdin/stdout. Start the server first (xiaozhi-connect start -d) and allow the client with xiaozhi-connect client add NAME",
    info: "xiaozhi-client's info: answered with where to look",
    infoAnswer:
      "xiaozhi-connect has no info command: xiaozhi-connect --version prints the version, xiaozhi-connect status whether the server runs (with its endpoints and services), xiaozhi-connect config path which config file it reads",
    configGet: "xiaozhi-client's config get: answered with where to look",
    configGetAnswer: (key: string | undefined, file: string | null) =>
      key === "mcpEndpoint"
        ? "xiaozhi-connect has no config get. The endpoints (masked): xiaozhi-connect endpoint list"
        : key === "mcpServers"
          ? "xiaozhi-connect has no config get. The services: xiaozhi-connect service list"
          : `xiaozhi-connect has no config get: read ${key ? `${fieldOf(key)} in ` : ""}${file ?? "the config (xiaozhi-connect config path)"}, or check it with xiaozhi-connect config check`,
    configSet: "xiaozhi-client's config set: answered with what to do instead",
    configSetAnswer: (key: string, file: string | null) =>
      key === "mcpEndpoint"
        ? "xiaozhi-connect has no config set. Add or remove endpoints with: xiaozhi-connect endpoint add URL / endpoint remove ID (saved and applied live)"
        : `xiaozhi-connect has no config set: edit ${fieldOf(key)}${file ? ` in ${file}` : " in the config (xiaozhi-connect config path)"}; a saved change applies live, and xiaozhi-connect config check validates it`,
    configMcpEndpoint: "xiaozhi-client's config mcpEndpoint: answered with what to do instead",
    configMcpEndpointAnswer: (url: boolean, file: string | null) =>
      url
        ? `xiaozhi-connect has no config mcpEndpoint, which replaced every endpoint at once: add this one with xiaozhi-connect endpoint add URL and take others out with endpoint remove ID (saved and applied live), or edit mcpEndpoint${file ? ` in ${file}` : " in the config (xiaozhi-connect config path)"}`
        : "xiaozhi-connect has no config mcpEndpoint. The endpoints (masked): xiaozhi-connect endpoint list",
    endpointSet: "xiaozhi-client's endpoint set: answered with what to do instead",
    endpointSetAnswer: (file: string | null) =>
      `xiaozhi-connect has no endpoint set, which would replace every endpoint at once: edit mcpEndpoint${file ? ` in ${file}` : " in the config (xiaozhi-connect config path)"} (a saved change applies live), or add and remove them one by one: xiaozhi-connect endpoint add URL / endpoint remove ID`,
    ui: "xiaozhi-client's ui: the dashboard is always on",
    uiAnswer: (url: string, running: boolean) =>
      running
        ? `xiaozhi-connect has no ui command: the dashboard is always on, at ${url}`
        : `xiaozhi-connect has no ui command: the dashboard is always on while the server runs (xiaozhi-connect start -d, then ${url})`,
    create: "xiaozhi-client's create: answered with what to do instead",
    createAnswer:
      "xiaozhi-connect has no project templates: xiaozhi-connect config init writes a starter config, and services are any MCP server (mcpServers in the config)",
  },
};

/** Everything the command line says, in one language. */
export type Messages = typeof en;

/** xiaozhi-client's short keys are fields of `connection` here. */
function fieldOf(key: string | undefined): string {
  if (!key) return "the config";
  return ["heartbeatInterval", "heartbeatTimeout", "reconnectInterval"].includes(key)
    ? `connection.${key}`
    : key;
}

/** A field of the config as `config set`/`get` users name it, written as its path in the file. */
export const fieldPath = fieldOf;

/** The messages of `locale`. */
export function messagesFor(locale: Locale): Messages {
  return locale === "zh-CN" ? zhCN : en;
}

/** An error in the command line's language: the words for its code, then its detail. */
export function describe(error: unknown, m: Messages): string {
  const message = (error as Error).message;
  for (const [pattern, say] of m.plainErrors) {
    const match = pattern.exec(message);
    if (match) return say(...match.slice(1));
  }
  if (m.prefixCodes && XiaozhiError.isInstance(error)) {
    if (m.explain.labelled) return m.explain.labelled(error.code, message);
    const words = m.errorCodes[error.code as keyof Messages["errorCodes"]];
    if (words && words !== message) return `${words}: ${m.explain(message)}`;
  }
  return m.explain(message);
}
