import { redact } from "@xiaozhi-connect/core";
import type { Hono } from "hono";
import { z } from "zod";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import { endpointIdOf } from "../config/endpoints.js";
import { maxCallLogMinutes } from "../history/call-log.js";

/** One answer for every wrong `minutes`, a type or a range: it names what is allowed. */
const minutesRange = `\`minutes\` must be a whole number from 1 to ${maxCallLogMinutes}`;

const startBody = z.object({
  minutes: z
    .number({ error: minutesRange })
    .int(minutesRange)
    .min(1, minutesRange)
    .max(maxCallLogMinutes, minutesRange)
    .optional(),
  endpoint: z.string({ error: "`endpoint` must be an endpoint id or URL" }).optional(),
});

/**
 * The opt-in call log: `GET /api/call-log` (its state and entries), `POST /api/call-log`
 * `{minutes?, endpoint?}` to turn it on, `DELETE /api/call-log` to turn it off and forget it. The
 * guard asks for auth on every one of them wherever a token or password is set.
 */
export function mountCallLog(app: Hono, adapter: XiaozhiConnectionAdapter): void {
  const log = adapter.callLog;
  app.get("/api/call-log", (c) => c.json({ state: log.state, entries: log.entries() }));
  app.post("/api/call-log", async (c) => {
    const body = await c.req.json().catch(() => ({}));
    const parsed = startBody.safeParse(body ?? {});
    if (!parsed.success) {
      return c.json(
        { error: { code: "BAD_REQUEST", message: parsed.error.issues[0]?.message ?? "bad body" } },
        400,
      );
    }
    const { minutes } = parsed.data;
    // Kept, shown and matched by its id: a URL given here is never echoed.
    const endpoint = parsed.data.endpoint === undefined ? undefined : endpointIdOf(parsed.data.endpoint);
    if (endpoint !== undefined && !adapter.hasEndpoint(endpoint)) {
      return c.json(
        {
          error: {
            code: "UNKNOWN_ENDPOINT",
            message: `no endpoint ${redact(endpoint.slice(0, 100))}`,
          },
        },
        404,
      );
    }
    return c.json({
      state: log.start({ ...(minutes ? { minutes } : {}), ...(endpoint ? { endpoint } : {}) }),
    });
  });
  app.delete("/api/call-log", (c) => {
    log.stop();
    return c.body(null, 204);
  });
}
