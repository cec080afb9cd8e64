/**
 * Helpers the sibling `@xiaozhi-connect/*` packages and this package's tests share. Outside semver:
 * anything here may change or go in any release.
 * @packageDocumentation
 */
export {
  answerForInvalidFrame,
  asInvalidParams,
  type JsonRpcErrorAnswer,
  oneLineSchemaError,
} from "./jsonrpc-errors.js";
export { SharedToolServer } from "./mcp-tool-server.js";
export type { ServedLink, ToolServerOptions } from "./served-link.js";
export { MalformedFrameError, normalizeFrame } from "./websocket-transport.js";
