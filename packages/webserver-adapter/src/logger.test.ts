import { spawn } from "node:child_process";
import { once } from "node:events";
import { Writable } from "node:stream";
import { XiaozhiError } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

/** A logger writing into an array of parsed lines, and the raw text beside them. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  let text = "";
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  // pino writes synchronously to a plain stream: each line is there when the call returns.
  const log = createLogger({ destination });
  return { log, lines, raw: () => text };
}

const dialUrl = "wss://api.xiaozhi.me/mcp/?token=SECRET3";

describe("createLogger", () => {
  it("redacts the message pino takes from an error logged alone", () => {
    const { log, lines, raw } = capture();
    log.error(new Error(`dial failed: ${dialUrl}`));
    expect(raw()).not.toContain("SECRET3");
    expect(lines[0]?.msg).toMatch(
      /^dial failed: wss:\/\/api\.xiaozhi\.me\/mcp\/\?token=<masked:[0-9a-f]{6}>$/,
    );
  });

  it("redacts the message pino takes from { err } when none is given", () => {
    const { log, lines, raw } = capture();
    log.warn({ err: new Error(`dial failed: ${dialUrl}`) });
    expect(raw()).not.toContain("SECRET3");
    expect(lines[0]?.msg).toContain("token=<masked:");
  });

  it("keeps an error's type, a redacted stack, its safe fields and its cause", () => {
    const { log, lines, raw } = capture();
    const cause = new TypeError(`socket to ${dialUrl} reset`);
    const error = new XiaozhiError("CONNECT_FAILED", `dial failed: ${dialUrl}`, { cause, status: 502 });
    log.error({ err: error }, "connect failed");
    const err = lines[0]?.err as Record<string, unknown>;
    expect(raw()).not.toContain("SECRET3");
    expect(err.type).toBe("XiaozhiError");
    expect(err).toMatchObject({ code: "CONNECT_FAILED", status: 502, retryable: true });
    expect(err.message).toMatch(/^dial failed: wss:\/\/api\.xiaozhi\.me\/mcp\/\?token=<masked:[0-9a-f]{6}>$/);
    expect(err.stack).toMatch(/^XiaozhiError: dial failed: wss:\/\/api\.xiaozhi\.me\/mcp\/\?token=<masked:/);
    expect(err.stack).toMatch(/\n\s+at /);
    expect(err.cause).toMatchObject({
      type: "TypeError",
      message: expect.stringContaining("socket to wss:"),
    });
    expect((err.cause as { stack: string }).stack).toMatch(/^TypeError: socket to/);
    // The error logged is left as it was.
    expect(error.message).toContain("SECRET3");
    expect(error.cause).toBe(cause);
  });

  it("leaves out an error's other fields: a spawn error's arguments, a client's options", async () => {
    const { log, lines, raw } = capture();
    const child = spawn("xiaozhi-connect-no-such-command", ["--token", "SUPERSECRET123"]);
    const [spawnError] = (await once(child, "error")) as [Error];
    log.error(spawnError);
    log.error({ err: spawnError }, "service failed to start");
    const clientError = Object.assign(new Error("login refused"), {
      statusCode: 401,
      options: { user: "me", password: "PW789" },
    });
    log.warn({ err: clientError }, "login failed");
    log.warn({ err: new Error("outer", { cause: clientError }) }, "login failed");
    expect(raw()).not.toContain("SUPERSECRET123");
    expect(raw()).not.toContain("PW789");
    expect(lines[0]?.err).toMatchObject({
      type: "Error",
      code: "ENOENT",
      errno: -2,
      syscall: expect.any(String),
    });
    expect(lines[0]?.err).not.toHaveProperty("spawnargs");
    expect(lines[1]?.err).not.toHaveProperty("path");
    expect(lines[2]?.err).toEqual({
      type: "Error",
      message: "login refused",
      stack: expect.stringMatching(/^Error: login refused\n/),
      statusCode: 401,
    });
    expect(lines[3]?.err).toHaveProperty("cause", {
      type: "Error",
      stack: expect.any(String),
      message: "login refused",
      statusCode: 401,
    });
  });

  it("never throws on an error or object that refers back to itself", () => {
    const { log, lines } = capture();
    const error = Object.assign(new Error("loop"), { context: {} as Record<string, unknown> });
    error.context.original = error;
    const selfCaused = new Error("again", { cause: undefined as unknown });
    selfCaused.cause = selfCaused;
    const aggregate = new AggregateError([], "all failed");
    aggregate.errors.push(aggregate);
    const plain: Record<string, unknown> = { name: "plain" };
    plain.self = plain;
    expect(() => {
      log.error({ err: error });
      log.error(error);
      log.error(selfCaused);
      log.error(aggregate);
      log.info({ plain }, "plain");
    }).not.toThrow();
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatchObject({ msg: "loop", err: { type: "Error", message: "loop" } });
    expect(lines[2]?.err).toMatchObject({ message: "again", cause: "[Circular]" });
    expect(lines[3]?.err).toMatchObject({ type: "AggregateError", aggregateErrors: ["[Circular]"] });
    expect(lines[4]?.plain).toEqual({ name: "plain", self: "[Circular]" });
  });

  it("prints a value nested past six levels as […], in an object and in a chain of causes", () => {
    const { log, lines, raw } = capture();
    let deep: unknown = { target: { url: dialUrl, password: "DEEPPW" } };
    for (let i = 0; i < 6; i++) deep = { inner: deep };
    log.info({ deep }, "deep");
    let chain = new Error("innermost", { cause: { options: { password: "DEEPPW" } } });
    for (let i = 0; i < 7; i++) chain = new Error(`level ${i}`, { cause: chain });
    log.error(chain);
    expect(raw()).not.toContain("SECRET3");
    expect(raw()).not.toContain("DEEPPW");
    expect(raw()).toContain('"[…]"');
    let at = lines[0]?.deep as { inner?: unknown };
    for (let i = 0; i < 5; i++) at = at.inner as { inner?: unknown };
    expect(at).toEqual({ inner: "[…]" });
    expect(lines[0]?.msg).toBe("deep");
    expect(JSON.stringify(lines[1]?.err)).toMatch(/"cause":"\[…\]"/);
  });

  it("never throws on a field that cannot be read", () => {
    const { log, lines } = capture();
    const hostile = Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("unreadable");
      },
    });
    expect(() => log.info({ hostile }, "hostile")).not.toThrow();
    expect(lines[0]).toMatchObject({ msg: "hostile", hostile: "[unreadable]" });
  });

  it("masks the password of a URL in an error and in a field", () => {
    const { log, raw } = capture();
    log.error(new Error("dial failed: wss://user:PASSWORD@relay.test/mcp/"));
    log.info({ target: "ws://admin:PASSWORD@relay.test/mcp" }, "dialing");
    expect(raw()).not.toContain("PASSWORD");
    expect(raw()).toContain("user:<masked>@relay.test");
  });

  it("shows an error held in another field with its type, message and stack, redacted", () => {
    const { log, lines, raw } = capture();
    log.warn({ detail: { failure: new RangeError(`too far: ${dialUrl}`) } }, "retrying");
    expect(raw()).not.toContain("SECRET3");
    expect(lines[0]?.detail).toMatchObject({
      failure: { type: "RangeError", message: expect.stringContaining("token=<masked:") },
    });
    const failure = (lines[0]?.detail as { failure?: { stack: string } } | undefined)?.failure;
    expect(failure?.stack).toMatch(/^RangeError: too far/);
  });

  it("keeps the errors of an AggregateError", () => {
    const { log, lines, raw } = capture();
    log.error(new AggregateError([new Error(`first ${dialUrl}`)], "all failed"));
    expect(raw()).not.toContain("SECRET3");
    const err = lines[0]?.err as { type: string; aggregateErrors: { message: string }[] };
    expect(err.type).toBe("AggregateError");
    expect(err.aggregateErrors[0]?.message).toContain("first wss://api.xiaozhi.me/mcp/?token=<masked:");
  });
});
