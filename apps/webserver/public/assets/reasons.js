// The product's error texts (why a link dropped, a service is down, a tool cannot run, the config
// was refused) are English sentences made by the server. Here each known form becomes words from
// the dictionaries, with its values (addresses, paths, a process's output) kept as data. A test
// feeds this the texts the real code makes, so a change of wording there fails here.
import { data, format, lang, lookup, plain, t } from "./i18n.js";

const r = (key, values) => format(`reasons.${key}`, values);

const closeWords = {
  1000: "close1000",
  1001: "close1001",
  1002: "closeProtocol",
  1003: "closeProtocol",
  1006: "close1006",
  1007: "closeProtocol",
  1008: "close1008",
  1009: "close1009",
  1011: "close1011",
  1012: "close1012",
  1013: "close1013",
  4001: "closeAuth",
  4003: "closeAuth",
  4004: "close4004",
  4401: "closeAuth",
  4403: "closeAuth",
};

/** A close code and what the far side said, in words. */
function closed(code, said = "") {
  const words = said.trim();
  if (words === "heartbeat timeout: no pong") return r("closed", { what: r("heartbeat"), code });
  const what = r(closeWords[code] ?? "closeOther");
  // The far side's own words are shown when they are in the page's language (a Chinese server's
  // reason on the Chinese page); an English one there would only repeat the code's meaning.
  const readable = lang() === "en" || /[\u3400-\u9fff]/.test(words);
  const repeats = words.toLowerCase() === plain(what).toLowerCase();
  return words && readable && !repeats
    ? r("closedSaid", { what, code, said: data(words) })
    : r("closed", { what, code });
}

function time(ms) {
  const n = Number(ms);
  return n >= 1000 && n % 1000 === 0 ? t("seconds", { s: n / 1000 }) : `${n} ms`;
}

const type = (name) => {
  const word = lookup(`types.${name}`);
  return typeof word === "string" ? word : data(name);
};

/** jsonc-parser's error code, as the server spells it (`value expected`). */
function jsonWord(words) {
  const key = words.replace(/ (\w)/g, (_, c) => c.toUpperCase());
  const word = lookup(`json.${key}`);
  return typeof word === "string" ? word : data(words);
}

const code = (text) => data(text);

/** The schema's word for one field (zod's messages and the config's own). */
const fieldRules = [
  [
    /^Invalid input: expected (\w+), received (\w+)$/,
    (m) => r("expected", { expected: type(m[1]), received: type(m[2]) }),
  ],
  [/^Invalid input$/, () => r("invalidInput")],
  // One allowed value: a service's `type` that does not fit the fields beside it.
  [/^Invalid input: expected ("[^"]+")$/, (m) => r("oneOf", { options: data(m[1]) })],
  [/^Too small: expected string to have >=(\d+) characters?$/, (m) => r("minChars", { limit: m[1] })],
  [/^Too small: expected array to have >=(\d+) items?$/, (m) => r("minItems", { limit: m[1] })],
  [/^Too small: expected \w+ to be >=(\S+)$/, (m) => r("atLeast", { limit: m[1] })],
  [/^Too small: expected \w+ to be >(\S+)$/, (m) => r("moreThan", { limit: m[1] })],
  [/^Too big: expected string to have <=(\d+) characters?$/, (m) => r("maxChars", { limit: m[1] })],
  [/^Too big: expected array to have <=(\d+) items?$/, (m) => r("maxItems", { limit: m[1] })],
  [/^Too big: expected \w+ to be <=(\S+)$/, (m) => r("atMost", { limit: m[1] })],
  [/^Too big: expected \w+ to be <(\S+)$/, (m) => r("lessThan", { limit: m[1] })],
  [/^Invalid option: expected one of (.+)$/, (m) => r("oneOf", { options: data(m[1]) })],
  [/^Unrecognized keys?: (.+)$/, (m) => r("unknownKeys", { keys: data(m[1]) })],
  [/^must be at least (\d+) characters$/, (m) => r("minChars", { limit: m[1] })],
  [/^must be 0 \(no limit\) or at least (\d+) bytes$/, (m) => r("resultBytes", { limit: m[1] })],
  [/^must be an http\(s\) URL$/, () => r("httpUrl")],
  [/^environment variable (\w+) is not set$/, (m) => r("envUnset", { name: code(m[1]) })],
  [/^must be a redis:\/\/ or rediss:\/\/ URL$/, () => r("redisUrl")],
  [/^must be 1-100 letters, digits, dots, dashes, colons or underscores$/, () => r("idChars")],
  [
    /^must be 1-(\d+) letters, digits, dots, dashes or underscores$/,
    (m) => r("latinName", { max: m[1], dot: data("."), dash: data("-"), underscore: data("_") }),
  ],
  [
    /^must be a URL, or a list of URLs and (\{.*\}) objects$/,
    (m) => r("endpointShape", { shape: data(m[1]) }),
  ],
  [
    /^needs `command` \(stdio\), `url` \(SSE \/ streamable HTTP\) or `replicas`$/,
    () => r("serviceShape", { command: code("command"), url: code("url"), replicas: code("replicas") }),
  ],
  [
    /^needs either `command` \(stdio\) or `url` \(SSE \/ streamable HTTP\)$/,
    () => r("replicaShape", { command: code("command"), url: code("url") }),
  ],
];

function field(message) {
  for (const [pattern, words] of fieldRules) {
    const m = pattern.exec(message);
    if (m) return words(m);
  }
  return [data(message)];
}

/** `invalid config: a.b: why; c: why`, one problem after another. */
function problems(list) {
  const out = [];
  for (const problem of list.split("; ")) {
    if (out.length) out.push(...r("separator"));
    const m = /^(.*?): ([\s\S]*)$/.exec(problem);
    if (!m) out.push(data(problem));
    else out.push(...r("problem", { path: m[1] === "(root)" ? r("root") : data(m[1]), what: field(m[2]) }));
  }
  return out;
}

const urlWhy = [
  [/^empty$/, () => r("urlEmpty")],
  [/^longer than (\d+) characters$/, (m) => r("urlTooLong", { max: m[1] })],
  [/^not allowed to contain control characters$/, () => r("urlControl")],
  [/^a placeholder, not a real endpoint$/, () => r("urlPlaceholder")],
  [/^not a URL$/, () => r("urlNotUrl")],
  [/^not a ws:\/\/ or wss:\/\/ URL$/, () => r("urlNotWs")],
];

// Order matters: texts that wrap other texts (`gave up …: <reason>`) come before what they wrap.
const rules = [
  [
    /^requires task-based execution \((execution\.taskSupport: required)\), which calls through xiaozhi-connect do not use$/,
    (m) => r("needsTasks", { setting: code(m[1]) }),
  ],
  [
    /^gave up after (\d+) reconnect attempts: ([\s\S]*)$/,
    (m) => r("gaveUp", { count: m[1], reason: explain(m[2]) }),
  ],
  [
    /^closed during handshake \((\d+) ?([\s\S]*)\)$/,
    (m) => r("duringHandshake", { what: closed(m[1], m[2]) }),
  ],
  [
    /^closed right after connecting \((\d+)(?: ([\s\S]*))?\)$/,
    (m) => r("rightAfter", { what: closed(m[1], m[2]) }),
  ],
  [/^closed (\d+)(?: ([\s\S]*))?$/, (m) => closed(m[1], m[2])],
  [/^not connected within (\d+) ms$/, (m) => r("connectTimeout", { time: time(m[1]) })],
  [/^endpoint rejected the token \(HTTP (\d+)\)$/, (m) => r("tokenHttp", { status: m[1] })],
  [/^endpoint answered the upgrade with HTTP (\d+)$/, (m) => r("upgradeHttp", { status: m[1] })],
  [/^the link closed before the ping was answered$/, () => r("pingClosed")],
  // A service's reason: what failed; how its process ended; the tail of what it wrote to stderr.
  [
    /^([\s\S]+?); stderr: ([\s\S]*)$/,
    (m) => [...explain(m[1]), ...r("separator"), ...r("stderr", { text: data(m[2]) })],
  ],
  [
    /^([\s\S]+?); ((?:exited with code|killed by) \S+)$/,
    (m) => [...explain(m[1]), ...r("separator"), ...explain(m[2])],
  ],
  [/^exited with code (\S+)$/, (m) => r("exited", { code: m[1] })],
  [/^killed by (\w+)$/, (m) => r("killed", { signal: data(m[1]) })],
  [/^MCP error (-?\d+): ([\s\S]*)$/, (m) => r("mcpError", { code: m[1], what: explain(m[2]) })],
  [/^connection closed$/i, () => r("connectionClosed")],
  [/^request timed out$/i, () => r("requestTimedOut")],
  [/^spawn (\S+) ENOENT$/, (m) => r("spawnMissing", { command: data(m[1]) })],
  [/^spawn (\S+) EACCES$/, (m) => r("spawnDenied", { command: data(m[1]) })],
  [/^the service wrote a line longer than (\d+) bytes to stdout$/, (m) => r("lineTooLong", { bytes: m[1] })],
  [/^service \S+ was stopped$/, () => r("serviceStopped")],
  [/^([\s\S]+) \[([^\]\s]+)\]$/, (m) => [...explain(m[1]), " [", data(m[2]), "]"]],
  [/^fetch failed \(([\s\S]+)\)$/, (m) => r("fetchFailed", { cause: explain(m[1]) })],
  [/^(?:TypeError: )?fetch failed: ([\s\S]+)$/, (m) => r("fetchFailed", { cause: explain(m[1]) })],
  [/^SSE error: ([\s\S]+)$/, (m) => r("sseError", { cause: explain(m[1]) })],
  [
    /^not confirmed: instance (\S+) has stopped sending heartbeats$/,
    (m) => r("notConfirmed", { instance: data(m[1]) }),
  ],
  [/^(?:connect )?ECONNREFUSED (\S+)$/, (m) => r("refused", { address: data(m[1]) })],
  [/^getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (\S+)$/, (m) => r("hostNotFound", { host: data(m[1]) })],
  [/^(?:connect )?ETIMEDOUT (\S+)$/, (m) => r("timedOut", { address: data(m[1]) })],
  [/^(?:(?:read|write) )?ECONNRESET$|^socket hang up$/, () => r("reset")],
  [/^connect E(?:NET|HOST)UNREACH (\S+)$/, (m) => r("unreachable", { address: data(m[1]) })],
  [/^bad port$/, () => r("badPort")],
  // customMCP tools that cannot run here.
  [/^http handler without a url$/, () => r("httpNoUrl")],
  [
    /^proxy platform "(.*)" is not supported \(only coze\)$/,
    (m) => r("proxyPlatform", { platform: data(m[1]) }),
  ],
  [/^coze handler without config\.workflow_id$/, () => r("cozeNoWorkflow")],
  [/^platforms\.coze\.token is not set$/, () => r("cozeNoToken")],
  [
    /^handler type "(.*)" is not supported \(supported: mcp, proxy with platform coze, http\)$/,
    (m) => r("handlerType", { type: data(m[1]) }),
  ],
  [/^the entry has no name$/, () => r("entryNoName")],
  [/^the entry has no handler$/, () => r("entryNoHandler")],
  [/^the handler has no type$/, () => r("handlerNoType")],
  [/^mcp handler without config\.serviceName and config\.toolName$/, () => r("mcpNoTarget")],
  [/^another customMCP tool has this name$/, () => r("duplicateName")],
  [/^no service "(.*)" in mcpServers$/, (m) => r("targetNoService", { service: data(m[1]) })],
  [
    /^service "(.*)" has no tool "(.*)"$/,
    (m) => r("targetNoTool", { service: data(m[1]), tool: data(m[2]) }),
  ],
  [
    /^service "(.*)" is (starting|down|stopped)$/,
    (m) => r("targetNotUp", { service: data(m[1]), state: t(`states.${m[2]}`) }),
  ],
  // The config file.
  [
    /^config is not valid JSON at line (\d+), column (\d+): (.*)$/,
    (m) => r("jsonAt", { line: m[1], column: m[2], what: jsonWord(m[3]) }),
  ],
  [/^config is not valid JSON \(it ends too early\): (.*)$/, (m) => r("jsonEnds", { what: jsonWord(m[1]) })],
  [
    /^config is not valid JSON5 at line (\d+), column (\d+)$/,
    (m) => r("json5At", { line: m[1], column: m[2] }),
  ],
  [
    /^config is not valid JSON5 at line (\d+), column (\d+): unexpected `(.)`$/,
    (m) => r("json5AtChar", { line: m[1], column: m[2], char: code(m[3]) }),
  ],
  [/^config is not valid JSON5 \(it ends too early\)$/, () => r("json5Ends")],
  [/^config is not valid JSON5$/, () => r("json5")],
  [/^config is empty$/, () => r("empty")],
  [/^config unreadable: ([\s\S]*)$/, (m) => r("unreadable", { what: explain(m[1]) })],
  [/^ENOENT: [^,]*, \w+ '(.*)'$/, (m) => r("fileMissing", { path: data(m[1]) })],
  [/^EACCES: [^,]*, \w+ '(.*)'$/, (m) => r("fileDenied", { path: data(m[1]) })],
  [/^invalid config: ([\s\S]*)$/, (m) => problems(m[1])],
  [
    /^(?:(\S+): )?unknown strategy "(.*)" \(registered: (.*?)\)(; changes to the strategies block apply at the next restart)?$/,
    (m) => {
      const what = r("unknownStrategy", { name: data(m[2]), names: data(m[3]) });
      const whole = m[1] ? r("problem", { path: data(m[1]), what }) : what;
      return m[4] ? r("strategiesAtRestart", { what: whole, block: data("strategies") }) : whole;
    },
  ],
  [
    /^a service name is 1-(\d+) letters, digits, "-" or "_"$/,
    (m) => r("serviceNameChars", { max: m[1], dash: data("-"), underscore: data("_") }),
  ],
  [/^a service name may not contain "(.*)"$/, (m) => r("serviceNameSeparator", { separator: data(m[1]) })],
  [/^service (\S+) declares an empty replicas list$/, (m) => r("emptyReplicas", { name: data(m[1]) })],
  // What the API says about an endpoint it refuses.
  [/^endpoint URL is (.*)$/, (m) => r("urlIs", { why: matchIn(urlWhy, m[1]) ?? data(m[1]) })],
  [/^endpoint name is longer than (\d+) characters$/, (m) => r("nameTooLong", { max: m[1] })],
  [/^endpoint (\S+) already exists$/, (m) => alreadyThere(m[1])],
  [/^client name ([\s\S]+)$/, (m) => r("clientName", { what: field(m[1]) })],
  // What the audit trail keeps of a refused request: its status alone.
  [/^HTTP 401$/, () => r("wrongSecret")],
  [/^HTTP 429$/, () => r("tooManyTries")],
];

/** Texts that say all their error code says: shown alone, not after the code's label. */
const whole = [/^endpoint \S+ already exists$/];

// The agents' names by endpoint id, as the page knows them (none in Node): the id alone tells a
// reader nothing.
let nameOf = () => undefined;
let named = false;

/** Gives `explain` the names of endpoints (`lookup(id)` → the agent's name, or undefined). */
export function nameEndpoints(lookup) {
  nameOf = lookup;
}

function alreadyThere(id) {
  // A name may change or come later: what depends on it is not remembered.
  named = true;
  const name = nameOf(id);
  if (!name) return r("alreadyExists", { what: data(id) });
  return r("alreadyUsedBy", { name: { data: name, title: id } });
}

function matchIn(list, text) {
  for (const [pattern, words] of list) {
    const m = pattern.exec(text);
    if (m) return words(m);
  }
  return undefined;
}

const memo = new Map();

/**
 * The product's text in words of the page's language, as segments (see `format`); a text of no
 * known form comes back whole, as data.
 */
export function explain(text) {
  const key = `${lang()}\u0000${text}`;
  let out = memo.get(key);
  if (!out) {
    // Set by a rule that looked for a name, here or in a text this one wraps.
    const outer = named;
    named = false;
    out = matchIn(rules, String(text).trim()) ?? [data(text)];
    const usedName = named;
    named = outer || usedName;
    if (memo.size > 1000) memo.clear();
    if (!usedName) memo.set(key, out);
  }
  return out;
}

/** True when `explain` knows the form of `text`. */
export const known = (text) => matchIn(rules, String(text).trim()) !== undefined;

/** An API error: its code in words, then what the server said, explained. */
export function apiError(errorCode, message) {
  const label = lookup(`errors.${errorCode}`);
  if (typeof label !== "string") return message ? explain(message) : [data(errorCode ?? "")];
  if (message && whole.some((pattern) => pattern.test(message))) return explain(message);
  return message ? r("labelled", { label, what: explain(message) }) : [label];
}
