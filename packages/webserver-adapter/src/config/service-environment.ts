import type { EnvReference } from "./env-refs.js";

/** The WebServer's own secrets in the environment: its admin token (`webUI.authToken`'s fallback). */
export const ownSecretVariables: readonly string[] = ["XIAOZHI_TOKEN"];

/**
 * The environment a stdio service starts with: this process's, without the WebServer's own
 * secrets. Those are its admin token and the variables the config reads outside `mcpServers`:
 * the tokens of endpoint URLs, a Redis password, a custom tool's key. A service never needs them,
 * and a tool that reports its environment would hand them to any agent. A variable a service's
 * own entry reads stays: the config gave it to that service (in its `env`, or for its arguments),
 * and others may inherit it as they always did.
 */
export function serviceEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  references: readonly EnvReference[],
): Record<string, string | undefined> {
  const forServices = new Set<string>();
  const withheld = new Set(ownSecretVariables);
  for (const { path, variables } of references) {
    const mine = path === "mcpServers" || path.startsWith("mcpServers.") || path.startsWith("mcpServers[");
    for (const name of variables) (mine ? forServices : withheld).add(name);
  }
  const out = { ...env };
  for (const name of withheld) if (!forServices.has(name)) delete out[name];
  return out;
}
