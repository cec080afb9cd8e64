import { describe, expect, it } from "vitest";
import { IdMultiplexer, type MultiplexedLink } from "./id-multiplexer.js";

interface TestLink extends MultiplexedLink {
  readonly name: string;
  idle: number;
}

const link = (name: string): TestLink => ({
  name,
  incoming: 0,
  outgoing: 0,
  idle: 0,
  onIdle() {
    this.idle++;
  },
});

describe("IdMultiplexer", () => {
  it("gives every request an id of its own, and gives each back its link and the id it came with", () => {
    const ids = new IdMultiplexer<TestLink>();
    const [a, b] = [link("a"), link("b")];
    const first = ids.admit(a, 7);
    const second = ids.admit(b, 7);
    const repeat = ids.admit(a, 7);
    expect(new Set([first, second, repeat]).size).toBe(3);
    expect(ids.incoming(second)).toEqual({ link: b, id: 7 });
    expect([a.incoming, b.incoming, ids.pending]).toEqual([2, 1, 3]);
    // A link names only its own requests.
    expect(ids.uniqueOf(b, 7)).toBe(second);
    expect(ids.uniqueOf(b, 8)).toBeUndefined();
    expect(ids.uniqueOf(link("c"), 7)).toBeUndefined();
  });

  it("tells a link it is idle when its last request ends, once, and never for a request refused at once", () => {
    const ids = new IdMultiplexer<TestLink>();
    const a = link("a");
    const refused = ids.admit(a, "x");
    ids.withdraw(refused);
    ids.withdraw(refused);
    expect([a.incoming, a.idle]).toEqual([0, 0]);
    const one = ids.admit(a, 1);
    const two = ids.admit(a, 2);
    expect(ids.settle(one)).toEqual({ link: a, id: 1 });
    expect(a.idle).toBe(0);
    expect(ids.settle(two)).toEqual({ link: a, id: 2 });
    expect(ids.settle(two)).toBeUndefined();
    expect([a.incoming, a.idle, ids.pending]).toEqual([0, 1, 0]);
  });

  it("forgets a closed link's requests either way, and no one else's", () => {
    const ids = new IdMultiplexer<TestLink>();
    const [a, b] = [link("a"), link("b")];
    const mine = [ids.admit(a, 1), ids.admit(a, 2)];
    const theirs = ids.admit(b, 1);
    ids.sent(100, a);
    ids.sent(101, b);
    ids.sent(102, a);
    expect(ids.dropIncoming(a)).toEqual(mine);
    expect(ids.dropOutgoing(a)).toEqual([100, 102]);
    expect([a.incoming, a.outgoing, a.idle]).toEqual([0, 0, 0]);
    expect(ids.dropIncoming(a)).toEqual([]);
    expect(ids.incoming(theirs)?.link).toBe(b);
    expect(ids.pending).toBe(2);
  });

  it("takes an answer only from the link its request went to", () => {
    const ids = new IdMultiplexer<TestLink>();
    const [a, b] = [link("a"), link("b")];
    ids.sent(5, a);
    ids.sent(6, a);
    expect(ids.answered(b, 5)).toBe(false);
    expect(ids.answered(a, "5")).toBe(false);
    expect(ids.answered(a, 5)).toBe(true);
    expect(ids.answered(a, 5)).toBe(false);
    expect(ids.abandon(6)).toBe(a);
    expect(ids.abandon(6)).toBeUndefined();
    expect([a.outgoing, ids.pending]).toEqual([0, 0]);
  });

  it("routes a message the server starts to the link it was started for, until it settles", async () => {
    const ids = new IdMultiplexer<TestLink>();
    const [a, b] = [link("a"), link("b")];
    let seen: TestLink | undefined;
    let release!: () => void;
    const sending = ids.route(b, async (route) => {
      seen = ids.linkFor(route);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return "sent";
    });
    expect(seen).toBe(b);
    expect(ids.routes).toBe(1);
    release();
    expect(await sending).toBe("sent");
    expect(ids.routes).toBe(0);
    // A message about a request goes where the request came from.
    expect(ids.linkFor(ids.admit(a, 1))).toBe(a);
    expect(ids.linkFor(undefined)).toBeUndefined();
    expect(ids.linkFor("route-0")).toBeUndefined();
  });

  it("closes the route of a send that fails, at once or later", async () => {
    const ids = new IdMultiplexer<TestLink>();
    const a = link("a");
    expect(() =>
      ids.route(a, () => {
        throw new Error("refused at once");
      }),
    ).toThrow("refused at once");
    await expect(ids.route(a, async () => Promise.reject(new Error("failed later")))).rejects.toThrow(
      "failed later",
    );
    expect(ids.routes).toBe(0);
  });
});
