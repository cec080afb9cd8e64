import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { connected, setup, url, useFakeTimers } from "./connection-manager.test-helpers.js";
import { resolveEndpoint } from "./endpoint.js";
import { maskEndpoint } from "./mask.js";
import type { Strategy } from "./strategy.js";

useFakeTimers();

describe("a resolved endpoint as printed", () => {
  it("shows its masked URL to JSON and util.inspect, and gives the real one to code", () => {
    const endpoint = resolveEndpoint({ url: url(1), name: "kitchen", data: { services: ["calc"] } });
    expect(endpoint.url).toBe(url(1));
    expect(inspect(endpoint)).not.toContain("secret-token-1");
    expect(inspect(endpoint)).toContain(maskEndpoint(url(1)));
    expect(JSON.parse(JSON.stringify(endpoint))).toEqual({
      id: endpoint.id,
      url: maskEndpoint(url(1)),
      masked: maskEndpoint(url(1)),
      name: "kitchen",
      weight: 1,
      data: { services: ["calc"] },
    });
    // Its own fields are plain data: a spread or a comparison sees the real URL.
    expect({ ...endpoint }.url).toBe(url(1));
    expect(endpoint).toEqual({
      id: endpoint.id,
      url: url(1),
      masked: maskEndpoint(url(1)),
      name: "kitchen",
      weight: 1,
      data: { services: ["calc"] },
    });
    expect(Object.keys(endpoint)).toEqual(["id", "url", "masked", "name", "weight", "data"]);
    expect(Object.isFrozen(endpoint)).toBe(true);
  });

  it("prints an endpoint known only by id as it is", () => {
    const endpoint = resolveEndpoint({ id: "replica-1" });
    expect(JSON.parse(JSON.stringify(endpoint))).toEqual({ id: "replica-1", masked: "replica-1", weight: 1 });
  });

  it("keeps the token out of a printed connection and of the candidates a strategy prints", async () => {
    const printed: string[] = [];
    const printing: Strategy = {
      specificationVersion: "v1",
      name: "printing",
      select: (candidates) => {
        printed.push(inspect(candidates, { depth: 4 }));
        return candidates[0];
      },
    };
    const { manager } = setup({ strategy: printing });
    await connected(manager, [url(1), url(2)]);
    await manager.dispatch(async () => "done");
    const connection = manager.getConnections()[0];
    const outputs = [
      inspect(connection, { depth: 6 }),
      JSON.stringify(connection?.endpoint),
      inspect(manager.getConnection(url(2)), { depth: 6 }),
      ...printed,
    ];
    expect(printed).toHaveLength(1);
    expect(outputs.join("\n")).toContain(maskEndpoint(url(1)));
    for (const output of outputs) expect(output).not.toMatch(/secret-token/);
    expect(connection?.endpoint.url).toBe(url(1));
    await manager.cleanup();
  });
});
