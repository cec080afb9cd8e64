import type { Writable } from "node:stream";

/**
 * Settles once everything written to `streams` so far has been handed to the system: into a pipe a
 * write completes later, when the reader has taken it (`| less` waits for its user, as any command
 * does). A reader that went away (`| head`) ends the wait: what it did not read is dropped.
 */
export function flushed(streams: readonly Writable[]): Promise<void> {
  return Promise.all(
    streams.map(
      (stream) =>
        new Promise<void>((resolve) => {
          stream.on("error", () => resolve());
          if (stream.destroyed || !stream.writable) resolve();
          else stream.write("", () => resolve());
        }),
    ),
  ).then(() => {});
}
