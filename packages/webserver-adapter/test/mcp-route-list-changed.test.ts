import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { calcFixture, finish, mcpClient, Stack } from "./harness.js";

const slowToken = "slow-only-token-0123456789abcdefghij";
const allToken = "all-tools-token-0123456789abcdefghij";

let stack: Stack | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
  await finish(stack);
  stack = undefined;
});

/** A connected SDK client that counts the `list_changed` it is sent and can wait for the next. */
async function connect(s: Stack, token: string) {
  const client = await mcpClient(s.base, token);
  clients.push(client);
  const told: number[] = [];
  let wake: (() => void) | undefined;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    told.push(Date.now());
    wake?.();
  });
  const names = async () => (await client.listTools()).tools.map((tool) => tool.name).sort();
  /** Resolves at the next notice after `seen` of them. */
  const next = (seen: number) =>
    told.length > seen ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve));
  return { client, told, names, next };
}

describe("list_changed on /mcp", () => {
  it("tells a client only of changes to its own list, once per change", async () => {
    const s = await Stack.start({
      mcpEndpoint: ["cloud:a"],
      mcpServers: {
        calc: { command: process.execPath, args: [calcFixture] },
        slow: { command: process.execPath, args: [calcFixture] },
      },
      clients: [
        { name: "slow", token: slowToken, services: ["slow"] },
        { name: "all", token: allToken },
      ],
    });
    stack = s;
    const limited = await connect(s, slowToken);
    const all = await connect(s, allToken);
    expect((await limited.names()).every((name) => name.startsWith("slow__"))).toBe(true);
    expect(await all.names()).toContain("calc__add");

    // An unrelated service goes: the limited client hears nothing, the other one notice.
    expect((await s.api("DELETE", "/api/services/calc")).status).toBe(204);
    await all.next(0);
    // Each session compares its own list; the limited one had nothing to say.
    expect(limited.told).toEqual([]);
    expect(await all.names()).not.toContain("calc__add");
    // A service comes, starting on its own time: one notice, once its tools are there.
    const config = { command: process.execPath, args: [calcFixture] };
    expect((await s.api("POST", "/api/services", { name: "calc2", config })).status).toBe(201);
    await all.next(1);
    expect(await all.names()).toContain("calc2__add");
    expect(all.told).toHaveLength(2);
    // A change both see comes after those: the first notice the limited client gets is this one.
    expect((await s.api("PATCH", "/api/tools/slow__add", { enabled: false })).status).toBe(200);
    await limited.next(0);
    expect(await limited.names()).not.toContain("slow__add");
    expect(limited.told).toHaveLength(1);
    await all.next(2);
    expect(all.told).toHaveLength(3);
  }, 30_000);
});
