import type { Context, Hono } from "hono";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import { endpointIdOf } from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";
import { type AuditActor, type AuditTrail, describeConfigChange } from "../history/audit-trail.js";
import { type HttpAuth, remoteAddress } from "./auth.js";

/** Sources a request may name itself as (`X-Xiaozhi-Source`); anything else is `api`. */
const namedSources = new Set(["dashboard", "cli"]);

/** Entries `GET /api/audit` returns without `limit`. */
const defaultAuditLimit = 100;

/** The most entries one `GET /api/audit` returns. */
const maxAuditLimit = 1000;

/** Actions that are not config changes, by route, and what each records. */
const actions: readonly [RegExp, string][] = [
  [/^\/api\/login$/, "login"],
  [/^\/api\/logout$/, "logout"],
  [/^\/api\/logout\/all$/, "logout-all"],
  [/^\/api\/endpoints\/([^/]+)\/reconnect$/, "reconnect"],
  [/^\/api\/services\/([^/]+)\/restart$/, "restart"],
  [/^\/api\/call-log$/, "call-log"],
];

/**
 * The audit trail on the HTTP side: each request runs as its actor (so the config's apply path
 * records who), config changes are recorded as they apply or are rejected, actions and logins as
 * they are answered, and `GET /api/audit` returns the latest. Returns what stops the recording.
 */
export function mountAudit(
  app: Hono,
  adapter: XiaozhiConnectionAdapter,
  audit: AuditTrail,
  auth: HttpAuth,
): () => void {
  app.use("*", async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const actor = actorOf(c, auth);
    await audit.as(actor, next);
    const path = c.req.path;
    for (const [pattern, action] of actions) {
      const match = pattern.exec(path);
      if (!match) continue;
      const ok = c.res.status < 300;
      audit.record({
        ...actor,
        action: action === "call-log" ? `call-log-${c.req.method === "DELETE" ? "off" : "on"}` : action,
        ...(match[1]
          ? {
              changes: [
                action === "reconnect"
                  ? ({ what: "endpoint", name: endpointIdOf(decode(match[1])) } as const)
                  : ({ what: "service", name: decode(match[1]).slice(0, 100) } as const),
              ],
            }
          : {}),
        outcome: ok ? "ok" : "refused",
        ...(ok ? {} : { error: `HTTP ${c.res.status}` }),
      });
    }
  });

  app.get("/api/audit", (c) => {
    const text = c.req.query("limit");
    const limit = text === undefined ? defaultAuditLimit : /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
    // A bad limit is refused, not read as the default: a script asking for 0 or 5000 learns why.
    if (!(limit >= 1 && limit <= maxAuditLimit)) {
      return c.json(
        {
          error: {
            code: "BAD_REQUEST",
            message: `limit must be a whole number from 1 to ${maxAuditLimit}`,
          },
        },
        400,
      );
    }
    return c.json({ entries: audit.recent(limit) });
  });

  let previous: XiaozhiConfig = adapter.config;
  return adapter.on("config", (status) => {
    const last = status.last;
    if (!last) return;
    const source = audit.actor?.source ?? last.source;
    if (last.outcome === "rejected") {
      audit.record({
        source,
        action: "config",
        outcome: "rejected",
        ...(status.lastError ? { error: status.lastError } : {}),
      });
      return;
    }
    const now = adapter.config;
    if (last.source === "start") {
      audit.record({ source, action: "start", counts: counts(now), outcome: "applied" });
    } else {
      const changes = describeConfigChange(previous, now);
      // A cluster re-apply that changed nothing here is no news.
      if (changes.length > 0 || last.source === "api" || last.source === "file") {
        audit.record({ source, action: "config", changes, outcome: "applied" });
      }
    }
    previous = now;
  });
}

function actorOf(c: Context, auth: HttpAuth): AuditActor {
  const named = c.req.header("x-xiaozhi-source") ?? "";
  const caller = auth.caller(c);
  const address = remoteAddress(c);
  return {
    source: namedSources.has(named) ? named : "api",
    ...(address ? { address } : {}),
    as:
      caller === undefined
        ? "none"
        : caller.via === "session"
          ? `session ${caller.id.slice(0, 6)}`
          : caller.via,
  };
}

function counts(config: XiaozhiConfig) {
  const list = config.mcpEndpoint;
  const endpoints = list === undefined ? 0 : Array.isArray(list) ? list.length : 1;
  return {
    endpoints,
    services: Object.keys(config.mcpServers ?? {}).length,
    clients: (config.clients ?? []).length,
  };
}

/** A path part as named: an endpoint's URL is turned into its id whole, so it is not cut first. */
function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
