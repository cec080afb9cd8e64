import { describe, expect, it } from "vitest";
import { parseEndpointStatus, parseMessage } from "./messages.js";

describe("parseMessage", () => {
  it("reads the messages instances send", () => {
    expect(parseMessage('{"t":"list","epoch":"ab","v":3}')).toEqual({ t: "list", epoch: "ab", v: 3 });
    expect(parseMessage('{"t":"released","by":"a","ids":["e1"]}')).toEqual({
      t: "released",
      by: "a",
      ids: ["e1"],
    });
    const status = {
      id: "e1",
      url: "ws://x/mcp/?token=<masked:1>",
      state: "connected",
      connected: true,
      initialized: true,
      reconnectAttempts: 0,
      healthScore: 100,
      weight: 1,
      inflight: 0,
      rttMs: 3,
    };
    expect(parseMessage(JSON.stringify({ t: "status", by: "a", endpoints: [status] }))).toEqual({
      t: "status",
      by: "a",
      endpoints: [status],
    });
    const change = { t: "status-change", by: "a", v: 4, endpoints: [status], gone: ["e2"] };
    expect(parseMessage(JSON.stringify(change))).toEqual(change);
    expect(parseEndpointStatus(JSON.stringify(status))).toEqual(status);
    expect(parseEndpointStatus('{"id":"e1"}')).toBeUndefined();
    expect(parseEndpointStatus("not json")).toBeUndefined();
  });

  it("drops what is not JSON, not a message, or a message with fields of the wrong kind", () => {
    for (const text of [
      "",
      "not json",
      "[]",
      '{"t":"unknown","by":"a"}',
      '{"t":"list","epoch":"ab","v":"3"}',
      '{"t":"released","by":"a","ids":"e1"}',
      '{"t":"status","by":"a","endpoints":[{"id":"e1"}]}',
      '{"t":"status-change","by":"a","endpoints":[]}',
      '{"t":"status-change","by":"a","v":1,"endpoints":[],"gone":[""]}',
      '{"t":"reconnect","by":"","id":"e1"}',
    ]) {
      expect(parseMessage(text), text).toBeUndefined();
    }
  });
});
