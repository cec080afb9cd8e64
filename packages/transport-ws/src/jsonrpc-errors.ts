import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/** A JSON-RPC error answer as it goes on the wire. */
export interface JsonRpcErrorAnswer {
  readonly jsonrpc: "2.0";
  readonly id: string | number | null;
  readonly error: { readonly code: number; readonly message: string };
}

/**
 * What to answer a frame the SDK's schema refused, or undefined when it deserves no answer (a
 * notification or a response: JSON-RPC never answers those). Ids of the right type are echoed as
 * they came, numbers of any value included; any other id is answered as `null`.
 */
export function answerForInvalidFrame(value: unknown): JsonRpcErrorAnswer | undefined {
  if (Array.isArray(value)) return answer(null, ErrorCode.InvalidRequest, "batches are not supported");
  if (typeof value !== "object" || value === null) {
    return answer(null, ErrorCode.InvalidRequest, "a JSON-RPC message must be an object");
  }
  const frame = value as Record<string, unknown>;
  const hasMethod = "method" in frame;
  if (!hasMethod && ("result" in frame || "error" in frame)) return undefined;
  const hasId = "id" in frame && frame.id !== undefined;
  if (!hasId && frame.jsonrpc === "2.0" && typeof frame.method === "string") return undefined;
  const validId = typeof frame.id === "string" || (typeof frame.id === "number" && Number.isFinite(frame.id));
  const id = validId ? (frame.id as string | number) : null;
  if (frame.jsonrpc !== "2.0") return answer(id, ErrorCode.InvalidRequest, '`jsonrpc` must be "2.0"');
  if (typeof frame.method !== "string")
    return answer(id, ErrorCode.InvalidRequest, "`method` must be a string");
  if (hasId && !validId) return answer(null, ErrorCode.InvalidRequest, "`id` must be a string or a number");
  if ("params" in frame && (typeof frame.params !== "object" || Array.isArray(frame.params))) {
    return answer(id, ErrorCode.InvalidParams, "`params` must be an object");
  }
  if (typeof id === "number" && !Number.isSafeInteger(id)) {
    return answer(id, ErrorCode.InvalidRequest, "`id` must be an integer");
  }
  return answer(id, ErrorCode.InvalidRequest, "not a valid JSON-RPC request");
}

/** The answer to a frame that is not JSON at all. */
export const parseErrorAnswer: JsonRpcErrorAnswer = Object.freeze(
  answer(null, ErrorCode.ParseError, "the frame is not JSON"),
);

function answer(id: string | number | null, code: number, message: string): JsonRpcErrorAnswer {
  const kind =
    code === ErrorCode.ParseError
      ? "Parse error"
      : code === ErrorCode.InvalidParams
        ? "Invalid params"
        : "Invalid Request";
  return { jsonrpc: "2.0", id, error: { code, message: `${kind}: ${message}` } };
}

interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * Turns a schema error thrown while a request handler parses its request into -32602 with a one-line
 * message (`Invalid params: name: Invalid input: expected string, received undefined`). The SDK would
 * otherwise answer -32603 with the validator's multi-line dump.
 */
export function asInvalidParams(error: unknown): unknown {
  const issues = (error as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues) || error instanceof McpError) return error;
  if (!issues.every((issue) => typeof issue === "object" && issue !== null && Array.isArray(issue.path)))
    return error;
  // The SDK answers with `code` and `message` of whatever the handler threw.
  const parts = (issues as SchemaIssue[]).slice(0, 3).map((issue) => {
    const path = issue.path
      .filter((p) => p !== "params")
      .map(String)
      .join(".");
    return `${path || "params"}: ${String(issue.message).replace(/\s+/g, " ")}`;
  });
  return Object.assign(new Error(`Invalid params: ${parts.join("; ")}`), { code: ErrorCode.InvalidParams });
}

/**
 * An answer the SDK made from a schema error (a request whose params failed its validation: -32603
 * with the validator's issues as a JSON dump), rewritten as -32602 with a one-line message. Any
 * other message is returned as it is. Checked only on error answers, so calls pay nothing for it.
 */
export function oneLineSchemaError<T>(message: T): T {
  const error = (message as { error?: { code?: unknown; message?: unknown } }).error;
  if (!error || error.code !== ErrorCode.InternalError || typeof error.message !== "string") return message;
  if (!error.message.startsWith("[")) return message;
  let issues: unknown;
  try {
    issues = JSON.parse(error.message);
  } catch {
    return message;
  }
  const rewritten = asInvalidParams({ issues }) as { code: number; message: string };
  if (rewritten.code !== ErrorCode.InvalidParams) return message;
  return { ...message, error: { code: rewritten.code, message: rewritten.message } };
}
