/**
 * The members of the MCP TypeScript SDK that the `@xiaozhi-connect/*` packages use although the SDK
 * does not document them, each behind a function that checks what it finds and says what to do
 * when it is gone. Made for those packages: it follows the SDK's internals, so its API may change
 * in any release.
 * @packageDocumentation
 */
export {
  childProcessOf,
  notificationDispatch,
  type RequestHandler,
  replaceReadBuffer,
  requestDispatch,
  type StdioReadBuffer,
  setBaseRequestHandler,
} from "./sdk-bridge.js";
