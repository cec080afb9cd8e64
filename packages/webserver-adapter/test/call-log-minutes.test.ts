import { afterEach, describe, expect, it } from "vitest";
import { finish, Stack } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

describe("POST /api/call-log {minutes}", () => {
  it("refuses minutes outside 1 to 1,440, or not a whole number, naming the range", async () => {
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] });
    stack = s;
    for (const minutes of [0, -5, 1.5, 1441, 99_999, "30", null]) {
      const answer = await s.api("POST", "/api/call-log", { minutes });
      expect({ minutes, status: answer.status, body: answer.body }).toEqual({
        minutes,
        status: 400,
        body: {
          error: { code: "BAD_REQUEST", message: "`minutes` must be a whole number from 1 to 1440" },
        },
      });
    }
    expect((await s.api("GET", "/api/call-log")).body.state).toEqual({ on: false });

    for (const minutes of [1, 1440]) {
      const answer = await s.api("POST", "/api/call-log", { minutes });
      expect(answer.status).toBe(200);
      expect(answer.body.state.until).toBeGreaterThan(Date.now() + (minutes - 1) * 60_000);
    }
  });
});
