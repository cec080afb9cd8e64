import type { RepublishCause, ToolDescriptor, ToolSource } from "@xiaozhi-connect/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type PublishedLink,
  type PublishSettings,
  ToolsPublisher,
  toolListFingerprint,
} from "./tools-publisher.js";

const tool = (name: string): ToolDescriptor => ({ name, inputSchema: { type: "object" } });

/** A link whose agent lists when the test says so, and that records what the publisher did. */
class FakeLink implements PublishedLink {
  listed: string | undefined;
  incoming = 0;
  open = true;
  notified = 0;
  readonly republished: RepublishCause[] = [];
  list: readonly ToolDescriptor[] = [tool("a")];
  readonly tools: ToolSource = {
    specificationVersion: "v1",
    listTools: () => this.list,
    callTool: async () => ({ content: [] }),
    onToolsChanged: () => () => {},
  };

  /** The agent lists tools now. */
  agentLists(): void {
    this.listed = toolListFingerprint(this.list);
  }
  sendListChanged(): void {
    this.notified++;
  }
  republish(cause: RepublishCause): void {
    this.republished.push(cause);
    this.open = false;
  }
}

function settings(change: Partial<PublishSettings> = {}): PublishSettings {
  return {
    toolsChanged: "auto",
    relistGrace: 2000,
    republishInterval: 20_000,
    drainTimeout: 30_000,
    toolsWait: 5000,
    ...change,
  };
}

/** A publisher on a listed link. */
function start(change: Partial<PublishSettings> = {}) {
  const publisher = new ToolsPublisher(settings(change));
  const link = new FakeLink();
  publisher.attach(link);
  link.agentLists();
  return { publisher, link };
}

/** The link after a republish: a new one, listed at connect. */
function reopen(publisher: ToolsPublisher, old: FakeLink): FakeLink {
  publisher.detach(old);
  const link = new FakeLink();
  link.list = old.list;
  publisher.attach(link);
  link.agentLists();
  return link;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("ToolsPublisher", () => {
  it("tells the agent, waits relistGrace for it to re-list, and remembers when it does", async () => {
    const { publisher, link } = start();
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(0);
    expect(link.notified).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    link.agentLists();
    publisher.listed(link);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(link.republished).toEqual([]);
    expect(publisher.relists).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("republishes an agent that did not re-list, and at once the next time", async () => {
    const { publisher, link } = start();
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(1999);
    expect(link.republished).toEqual([]);
    // The grace ends at 2000; the republish follows on the next timer turn.
    await vi.advanceTimersByTimeAsync(2);
    expect(link.republished).toEqual(["no-relist"]);
    expect(publisher.relists).toBe(false);
    const next = reopen(publisher, link);
    next.list = [tool("c")];
    publisher.changed(next);
    await vi.advanceTimersByTimeAsync(0);
    // Known to list only at connect, it is not told before it is reopened.
    expect(next.notified).toBe(0);
    expect(next.republished).toEqual(["remembered"]);
  });

  it("does nothing when the same tools come in another order, as after a service restarted", async () => {
    const { publisher, link } = start();
    link.list = [tool("a"), tool("b")];
    link.agentLists();
    link.list = [tool("b"), tool("a")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(link.notified).toBe(0);
    expect(link.republished).toEqual([]);
    expect(toolListFingerprint([tool("b"), tool("a")])).toBe(toolListFingerprint([tool("a"), tool("b")]));
  });

  it("does nothing for a change the agent's list already has, or one reverted in time", async () => {
    const { publisher, link } = start();
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(0);
    expect(link.notified).toBe(0);
    const before = link.list;
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(500);
    link.list = [...before];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(link.notified).toBe(1);
    expect(link.republished).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("`reconnect` reopens even when the agent re-lists before its republish comes", async () => {
    const { publisher, link } = start({ toolsChanged: "reconnect", drainTimeout: 5000 });
    link.incoming = 1;
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(0);
    expect(link.notified).toBe(1);
    // The agent answers list_changed at once, while a call still runs.
    link.agentLists();
    publisher.listed(link);
    await vi.advanceTimersByTimeAsync(0);
    link.incoming = 0;
    publisher.idle(link);
    await vi.advanceTimersByTimeAsync(0);
    expect(link.republished).toEqual(["forced"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("waits for running calls, up to drainTimeout", async () => {
    const { publisher, link } = start({ toolsChanged: "reconnect", drainTimeout: 5000 });
    link.incoming = 1;
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(100);
    expect(link.republished).toEqual([]);
    link.incoming = 0;
    publisher.idle(link);
    await vi.advanceTimersByTimeAsync(0);
    expect(link.republished).toEqual(["forced"]);

    const next = reopen(publisher, link);
    next.incoming = 2;
    next.list = [tool("c")];
    publisher.changed(next);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(4999);
    expect(next.republished).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.republished).toEqual(["forced"]);
  });

  it("spends five republishes at once, then one per republishInterval, always with the latest list", async () => {
    const publisher = new ToolsPublisher(settings({ toolsChanged: "reconnect", republishInterval: 10_000 }));
    let link = new FakeLink();
    publisher.attach(link);
    link.agentLists();
    const at: number[] = [];
    for (let step = 1; step <= 7; step++) {
      link.list = [tool(`v${step}`)];
      publisher.changed(link);
      await vi.advanceTimersByTimeAsync(0);
      if (link.republished.length > 0) {
        at.push(Date.now());
        link = reopen(publisher, link);
      }
    }
    expect(at).toHaveLength(5);
    // Steps 6 and 7 wait for one refilled slot, and the latest list is what goes out.
    link.list = [tool("v8")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(9999);
    expect(link.republished).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(link.republished).toEqual(["forced"]);
    expect(link.list).toEqual([tool("v8")]);
  });

  it("`notify` never reconnects; a closed link drops what was planned", async () => {
    const { publisher, link } = start({ toolsChanged: "notify" });
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(link.notified).toBe(1);
    expect(link.republished).toEqual([]);

    const auto = start();
    auto.link.list = [tool("b")];
    auto.publisher.changed(auto.link);
    await vi.advanceTimersByTimeAsync(0);
    auto.publisher.detach(auto.link);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ignores a link that has not listed yet: it gets the current list when it does", async () => {
    const publisher = new ToolsPublisher(settings());
    const link = new FakeLink();
    publisher.attach(link);
    link.list = [tool("b")];
    publisher.changed(link);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(link.notified).toBe(0);
    expect(link.republished).toEqual([]);
  });

  it("fingerprints what an agent receives: extra fields a source carries do not count", () => {
    const plain = [tool("a")];
    const extra = [{ ...tool("a"), service: "x", enabled: true } as ToolDescriptor];
    expect(toolListFingerprint(plain)).toBe(toolListFingerprint(extra));
    expect(toolListFingerprint(plain)).not.toBe(toolListFingerprint([tool("b")]));
  });
});
