import { join } from "node:path";

/** The repository root. */
export const root = join(import.meta.dirname, "../..");

/** Every package published to npm, by directory. */
export const published = [
  "packages/core",
  "packages/sdk-bridge",
  "packages/transport-ws",
  "packages/balancer",
  "packages/health",
  "packages/mcp-services",
  "packages/cluster-redis",
  "packages/webserver-adapter",
  "apps/webserver",
];
