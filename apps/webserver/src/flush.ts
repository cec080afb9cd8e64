import type { Writable } from "node:stream";

/**
 * Settles once everything written to `streams` so far has been handed to the system (into a pipe,
 * a write completes later), or after `limitMs` when a reader stops reading. A reader that went
 * away (`| head`) is no error: what it did not read is dropped.
 */
export function flushed(streams: readonly Writable[], limitMs = 30_000): Promise<void> {
  return new Promise<void>((resolve) => {
    let left = streams.length;
    const timer = setTimeout(resolve, limitMs);
    timer.unref();
    const done = () => {
      if (--left > 0) return;
      clearTimeout(timer);
      resolve();
    };
    if (left === 0) done();
    for (const stream of streams) {
      stream.on("error", () => {});
      if (stream.destroyed || !stream.writable) done();
      else stream.write("", () => done());
    }
  });
}
