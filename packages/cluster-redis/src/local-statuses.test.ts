import type { EndpointStatus } from "@xiaozhi-connect/core";
import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import { describe, expect, it } from "vitest";
import { LocalStatuses } from "./local-statuses.js";

const status = (id: string, connected = true) =>
  ({
    id,
    url: `wss://api.example/mcp/?token=<masked:${id}>`,
    state: connected ? "connected" : "reconnecting",
    connected,
  }) as EndpointStatus;

/** A host running `running`, counting its reads of all and of one. */
function host(running: Map<string, EndpointStatus>, byId = true) {
  const reads = { all: 0, one: [] as string[] };
  const h: ClusterHost = {
    statuses: () => {
      reads.all++;
      return [...running.values()];
    },
    ...(byId
      ? {
          status: (id: string) => {
            reads.one.push(id);
            return running.get(id);
          },
        }
      : {}),
    drop: async () => {},
    reconnect: () => {},
  };
  return { h, reads };
}

describe("LocalStatuses", () => {
  it("reads all once, then only the endpoints said to have changed", () => {
    const running = new Map(["e1", "e2", "e3"].map((id) => [id, status(id)]));
    const { h, reads } = host(running);
    const local = new LocalStatuses(10_000);
    expect([...local.read(h, 0).keys()]).toEqual(["e1", "e2", "e3"]);
    running.set("e2", status("e2", false));
    running.delete("e3");
    running.set("e4", status("e4"));
    for (const id of ["e2", "e3", "e4"]) local.touch(id);
    const seen = local.read(h, 100);
    expect(reads).toEqual({ all: 1, one: ["e2", "e3", "e4"] });
    expect(seen.get("e2")?.connected).toBe(false);
    expect([...seen.keys()].sort()).toEqual(["e1", "e2", "e4"]);
    // Nothing said: nothing read.
    local.read(h, 200);
    expect(reads).toEqual({ all: 1, one: ["e2", "e3", "e4"] });
  });

  it("reads all again when a change names no endpoint, every `every` ms, and when the host cannot read one", () => {
    const running = new Map(["e1", "e2"].map((id) => [id, status(id)]));
    const { h, reads } = host(running);
    const local = new LocalStatuses(1000);
    local.read(h, 0);
    local.touch();
    running.set("e1", status("e1", false));
    expect(local.read(h, 100).get("e1")?.connected).toBe(false);
    expect(reads.all).toBe(2);
    // A change it was not told of shows at the next whole read.
    running.set("e2", status("e2", false));
    expect(local.read(h, 500).get("e2")?.connected).toBe(true);
    expect(local.read(h, 1100).get("e2")?.connected).toBe(false);
    expect(reads).toEqual({ all: 3, one: [] });

    const plain = host(running, false);
    const other = new LocalStatuses(10_000);
    other.read(plain.h, 0);
    other.touch("e1");
    other.read(plain.h, 100);
    expect(plain.reads.all).toBe(2);
    expect(new LocalStatuses(1000).read(undefined, 0).size).toBe(0);
  });
});
