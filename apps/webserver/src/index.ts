export { type CliIo, main } from "./cli.js";
export { type Demo, type DemoOptions, startDemo } from "./demo.js";
export type { Locale } from "./locale.js";
export {
  type ConfigLookup,
  findConfig,
  isLoopback,
  type LookupCandidate,
  lookupCandidates,
} from "./options.js";
export { type ServeOptions, serve } from "./serve.js";
export { type ServerRecord, stateDir } from "./state.js";
export { startWebServer, type WebServer, type WebServerOptions } from "./web-server.js";
