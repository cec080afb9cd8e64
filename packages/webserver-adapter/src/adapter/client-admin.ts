import { randomBytes } from "node:crypto";
import { XiaozhiError } from "@xiaozhi-connect/core";
import { type McpClientConfig, mcpClientSchema } from "../config/clients.js";
import type { ConfigApplier } from "./config-applier.js";

/** An MCP client as the API and the dashboard show it: never its token. */
export interface McpClientInfo {
  readonly name: string;
  readonly services?: readonly string[];
  readonly tools?: readonly string[];
}

/** What a client may be limited to, as for an endpoint. */
export interface McpClientLimits {
  readonly services?: readonly string[];
  readonly tools?: readonly string[];
}

/** A new client token: 24 bytes of a CSPRNG as 32 URL-safe characters, out of reach of guessing. */
export function newClientToken(): string {
  return randomBytes(24).toString("base64url");
}

/** The view of a configured client, without its token. */
export function clientInfo({ name, services, tools }: McpClientConfig): McpClientInfo {
  return { name, ...(services ? { services } : {}), ...(tools ? { tools } : {}) };
}

/**
 * The MCP clients allowed on `/mcp`, as the API and the dashboard manage them: written to the
 * config through the applier's one path (atomically, keeping every other field and comment).
 */
export class ClientAdmin {
  constructor(private readonly applier: ConfigApplier) {}

  list(): McpClientInfo[] {
    return (this.applier.config.clients ?? []).map(clientInfo);
  }

  /**
   * Adds a client with a new token and returns the token, which nothing shows again. Throws
   * `INVALID_CONFIG` for a bad name or limits, or a name already used.
   */
  async add(name: string, limits: McpClientLimits = {}): Promise<{ client: McpClientInfo; token: string }> {
    const parsed = mcpClientSchema.safeParse({ name, token: newClientToken(), ...limits });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new XiaozhiError("INVALID_CONFIG", `client ${issue?.path.join(".")} ${issue?.message}`);
    }
    const entry = parsed.data;
    const { settled } = await this.applier.serially(() =>
      this.applier.change((raw) => {
        const clients = Array.isArray(raw.clients) ? (raw.clients as { name?: unknown }[]) : [];
        if (clients.some((c) => c.name === name)) {
          throw new XiaozhiError("INVALID_CONFIG", `there is already an MCP client "${name}"`);
        }
        raw.clients = [...clients, entry];
      }),
    );
    await settled;
    return { client: clientInfo(entry), token: entry.token };
  }

  /** Removes a client; its sessions close. False when there was none of that name. */
  async remove(name: string): Promise<boolean> {
    let removed = false;
    const { settled } = await this.applier.serially(() =>
      this.applier.change((raw) => {
        const clients = Array.isArray(raw.clients) ? (raw.clients as { name?: unknown }[]) : [];
        removed = clients.some((c) => c.name === name);
        if (removed) raw.clients = clients.filter((c) => c.name !== name);
        return removed;
      }),
    );
    await settled;
    return removed;
  }
}
