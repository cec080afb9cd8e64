import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConnectionManager } from "./connection-manager.js";
import type { Logger } from "./logger.js";
import { MemoryNetwork } from "./testing/memory-connection.js";

describe("Logger seam", () => {
  it("is satisfied by pino as is, and the manager logs through it without tokens", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger: Logger = pino({ level: "debug" }, sink);
    const network = new MemoryNetwork();
    const manager = new ConnectionManager({ connectionFactory: network.factory, logger });
    await manager.initialize(["wss://pino.test/mcp/?token=pino-secret-token"]);
    await manager.connect();
    network.all[0]?.drop(4004, "Internal server error");
    await manager.cleanup();
    const records = lines.map((line) => JSON.parse(line) as { msg: string; endpoint?: string });
    expect(records.map((r) => r.msg)).toEqual(
      expect.arrayContaining(["endpoint connected", "endpoint dropped"]),
    );
    expect(records[0]?.endpoint).toMatch(/^wss:\/\/pino\.test\/mcp\/\?token=<masked:[0-9a-f]{6}>$/);
    expect(lines.join("")).not.toContain("pino-secret-token");
  });
});
