import { afterEach, describe, expect, it } from "vitest";
import { HttpAuth } from "../src/http/auth.js";
import { finish, Stack } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const token = "token-of-the-session-streams-test-0123456789";

/** Signs in with the token and opens the event stream with the session: its reader, once the snapshot came. */
async function streamOf(s: Stack): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const login = await fetch(`${s.base}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ secret: token }),
  });
  expect(login.status).toBe(204);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const stream = await fetch(`${s.base}/api/events`, { headers: { cookie } });
  expect(stream.status).toBe(200);
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("event: snapshot")) text += new TextDecoder().decode((await reader.read()).value);
  return reader;
}

/** "ended" once the stream ends, or "open" after `ms`: a bound, not a wait for time to pass. */
async function ended(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("open"), ms);
  });
  const done = (async () => {
    for (;;) if ((await reader.read()).done) return "ended";
  })();
  try {
    return await Promise.race([done, open]);
  } finally {
    clearTimeout(timer);
  }
}

describe("an event stream opened with a session", () => {
  it("ends when the session expires, though no request asks about it then", async () => {
    // Long enough for the sign-in and the stream's first answer on a busy machine.
    const auth = new HttpAuth({ token, sessionTtlMs: 2000 });
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] }, { auth });
    stack = s;
    expect(await ended(await streamOf(s), 15_000)).toBe("ended");
  });

  it("stays open while its session lasts", async () => {
    const auth = new HttpAuth({ token, sessionTtlMs: 60_000 });
    const s = await Stack.start({ mcpEndpoint: ["cloud:a"] }, { auth });
    stack = s;
    expect(await ended(await streamOf(s), 1000)).toBe("open");
  });
});
