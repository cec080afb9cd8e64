import { describe, expect, it } from "vitest";
import { ClusterEndpointDirectory } from "../src/adapter/cluster-endpoint-directory.js";
import type { ClusterCoordinator, ClusterInstance } from "../src/cluster.js";

/** A directory over a coordinator that shows `count` live instances (and shares as `share` does). */
function directory(count: number, share?: (configured: number) => number): ClusterEndpointDirectory {
  const instances = Array.from(
    { length: count },
    (_, i): ClusterInstance => ({
      id: `i${i}`,
      address: null,
      startedAt: 0,
      endpoints: 0,
      heartbeatAt: 0,
      self: i === 0,
    }),
  );
  const coordinator = {
    ...(share ? { connectShare: share } : {}),
    view: () => ({ instanceId: "i0", redis: "", reachable: true, leaseTtl: 15_000, version: 1, instances }),
  } as unknown as ClusterCoordinator;
  return new ClusterEndpointDirectory(coordinator);
}

describe("ClusterEndpointDirectory.connectShare", () => {
  it("takes the coordinator's share when it has one", () => {
    expect(directory(5, (configured) => configured).connectShare(200)).toBe(200);
    expect(directory(1, (configured) => configured / 3).connectShare(200)).toBe(67);
  });

  it("keeps a limit of one place at least, whatever the coordinator answers", () => {
    expect(directory(1, () => 0).connectShare(200)).toBe(1);
    expect(directory(1, () => -5).connectShare(200)).toBe(1);
    // Not a number: the even part for each live instance instead.
    expect(directory(4, () => Number.NaN).connectShare(200)).toBe(50);
  });

  it("without it, shares the first connects under way among the live instances, rounded up", () => {
    expect(directory(1).connectShare(200)).toBe(200);
    expect(directory(4).connectShare(200)).toBe(50);
    expect(directory(3).connectShare(200)).toBe(67);
    expect(directory(5).connectShare(3)).toBe(1);
  });

  it("keeps no limit as no limit, and takes the whole before the instance is seen", () => {
    expect(directory(5).connectShare(0)).toBe(0);
    expect(directory(0).connectShare(200)).toBe(200);
  });
});
