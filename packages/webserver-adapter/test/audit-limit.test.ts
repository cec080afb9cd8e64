import { afterEach, describe, expect, it } from "vitest";
import { type AuditEntry, AuditTrail } from "../src/history/audit-trail.js";
import { finish, Stack } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

/** More entries than the largest limit, from before this start, numbered by `at`. */
const earlier: AuditEntry[] = Array.from({ length: 1200 }, (_, i) => ({
  at: i,
  source: "cli",
  action: "reconnect",
  outcome: "ok",
}));

describe("GET /api/audit?limit=", () => {
  it("returns the latest entries up to a limit from 1 to 1,000, 100 without one", async () => {
    const s = await Stack.start(
      { mcpEndpoint: ["cloud:a"] },
      { audit: new AuditTrail({ keep: 2000, earlier }) },
    );
    stack = s;
    const count = async (query: string) => {
      const answer = await s.api("GET", `/api/audit${query}`);
      expect(answer.status).toBe(200);
      return (answer.body.entries as AuditEntry[]).length;
    };
    expect(await count("")).toBe(100);
    expect(await count("?limit=1")).toBe(1);
    expect(await count("?limit=250")).toBe(250);
    expect(await count("?limit=1000")).toBe(1000);
    const [newest] = (await s.api("GET", "/api/audit?limit=2")).body.entries as AuditEntry[];
    // The newest is this start's own entry, after the 1,200 earlier ones.
    expect(newest?.action).toBe("start");
  });

  it("refuses a limit that is not a whole number from 1 to 1,000 with 400, not the default", async () => {
    const s = await Stack.start(
      { mcpEndpoint: ["cloud:a"] },
      { audit: new AuditTrail({ keep: 2000, earlier }) },
    );
    stack = s;
    for (const limit of ["0", "abc", "5000", "1001", "-3", "1.5", ""]) {
      const answer = await s.api("GET", `/api/audit?limit=${encodeURIComponent(limit)}`);
      expect({ limit, status: answer.status, body: answer.body }).toEqual({
        limit,
        status: 400,
        body: { error: { code: "BAD_REQUEST", message: "limit must be a whole number from 1 to 1000" } },
      });
    }
  });
});
