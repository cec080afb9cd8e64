export { run } from "./cli.js";
export { type Demo, type DemoOptions, startDemo } from "./demo.js";
export { type CliOptions, type ConfigLookup, findConfig, isLoopback, parseOptions } from "./options.js";
export { startWebServer, type WebServer, type WebServerOptions } from "./web-server.js";
