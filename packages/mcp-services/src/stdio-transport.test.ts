import { describe, expect, it } from "vitest";
import { oversizedResultId } from "./stdio-transport.js";

describe("oversizedResultId", () => {
  it("finds the id of a result however the service orders its members", () => {
    // The TypeScript SDK writes the id last; others write it first.
    expect(
      oversizedResultId('{"result":{"content":[{"type":"text","text":"xx', 'xx"}]},"jsonrpc":"2.0","id":7}'),
    ).toBe(7);
    expect(oversizedResultId('{"jsonrpc":"2.0","id":"a\\"b","result":{"content":', "}]}}")).toBe('a"b');
    expect(oversizedResultId('{"id":3,"jsonrpc":"2.0","result":{', "}}\r")).toBe(3);
  });

  it("finds none for what is not a result, or a result without a readable id", () => {
    expect(
      oversizedResultId('{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{', "}}"),
    ).toBe(undefined);
    expect(oversizedResultId('{"method":"notifications/message","params":{"data":"', '"}}')).toBe(undefined);
    expect(oversizedResultId('{"result":{"content":[', '"text":"ends without an id"}]}}')).toBe(undefined);
    expect(oversizedResultId("xxxxxxxx", "xxxxxxxx")).toBe(undefined);
  });
});
