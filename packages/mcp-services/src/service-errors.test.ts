import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { XiaozhiError } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { callFailure } from "./service-errors.js";

const noHealthy = (cause: Error) =>
  new XiaozhiError("NO_HEALTHY_CONNECTION", "no healthy connection left after 1 failed", { cause });
const message = (error: unknown) => (error as Error).message;

describe("a call's failure, as an agent reads it", () => {
  it("names the service, and says whether it went down under the call or had no replica to take it", () => {
    const down = { name: "calc", state: "down", lastError: "exited with code 3" };
    const up = { name: "calc", state: "up", lastError: undefined };
    expect(message(callFailure(up, new McpError(ErrorCode.ConnectionClosed, "Connection closed")))).toBe(
      "service calc went down during the call; it may have run",
    );
    expect(message(callFailure(down, noHealthy(new Error("write EPIPE"))))).toBe(
      "service calc is down: exited with code 3",
    );
    // Up again by the time it is said: not "down".
    expect(message(callFailure(up, noHealthy(new Error("write EPIPE"))))).toBe(
      "service calc has no healthy replica: write EPIPE",
    );
    // A replica's own words that name the service are not said twice.
    const own = new XiaozhiError("NOT_CONNECTED", "service calc is starting");
    expect(message(callFailure({ ...down, lastError: undefined }, noHealthy(own)))).toBe(
      "service calc is starting",
    );
    // The tool's own error passes as it is.
    const tool = new Error("division by zero");
    expect(callFailure(up, tool)).toBe(tool);
  });
});
