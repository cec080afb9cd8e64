import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { describeError, type Strategy, XiaozhiError } from "@xiaozhi-connect/core";

/** The link to a replica closed under a call, which may have run there. */
export function diedUnderCall(error: unknown): boolean {
  return error instanceof McpError && error.code === ErrorCode.ConnectionClosed;
}

/**
 * A service's reason as a caller reads it: without what the service printed to stderr (a path, a
 * secret in a connection string), which stays in the status, the log and the dashboard, on this
 * machine. Agents are remote.
 */
export function callerReason(reason: string): string {
  const at = reason.indexOf("; stderr: ");
  return at === -1 ? reason : reason.slice(0, at);
}

/**
 * A call's failure as an agent should read it: which service, and that it went down (under the
 * call, or before it reached a replica), rather than the SDK's bare "Connection closed" or the
 * dispatcher's "no healthy connection". Any other error is the tool's own and passes as it is.
 */
export function callFailure(
  from: { readonly name: string; readonly state: string; readonly lastError: string | undefined },
  error: unknown,
): unknown {
  const service = `service ${from.name}`;
  if (diedUnderCall(error)) {
    return new XiaozhiError("CLOSED", `${service} went down during the call; it may have run`, {
      cause: error,
    });
  }
  if (!XiaozhiError.isInstance(error) || error.code !== "NO_HEALTHY_CONNECTION") return error;
  const cause = describeError(error.cause ?? error);
  // Up, with every replica it tried failing before the call reached one (one that just died).
  const said =
    from.state === "up"
      ? `has no healthy replica: ${callerReason(cause)}`
      : `is down: ${callerReason(from.lastError ?? cause)}`;
  // A replica's own words may name the service already.
  const text = said.includes(`${service} `) ? said.slice(said.indexOf(`${service} `)) : `${service} ${said}`;
  return new XiaozhiError("NOT_CONNECTED", text, { cause: error });
}

/** The strategy `make` builds; when the entry names its own, an error for it names the field. */
export function ownStrategyOf(service: string, own: string | undefined, make: () => Strategy): Strategy {
  try {
    return make();
  } catch (error) {
    if (own === undefined || !XiaozhiError.isInstance(error)) throw error;
    throw new XiaozhiError(error.code, `mcpServers.${service}.strategy: ${error.message}`, { cause: error });
  }
}
