import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditEntry, AuditTrail } from "@xiaozhi-connect/webserver-adapter";
import { createStream, type RotatingFileStream } from "rotating-file-stream";

/** The audit trail's file in a server's state directory. */
export const auditFileName = "audit.jsonl";

/** Entries read back at start, and kept in memory for `GET /api/audit`. */
const keep = 500;

/**
 * The audit trail of a server, kept in its state directory as JSON lines: rotated at 1 MiB, five
 * old files kept, readable by the owner only. At start the latest entries are read back, so the
 * dashboard and `GET /api/audit` show changes from before a restart too.
 */
export function openAuditTrail(dir: string): { trail: AuditTrail; close(): Promise<void> } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, auditFileName);
  const earlier = existsSync(path) ? tail(readFileSync(path, "utf8")) : [];
  const stream: RotatingFileStream = createStream(auditFileName, {
    path: dir,
    size: "1M",
    rotate: 5,
    mode: 0o600,
  });
  // A full disk must not stop the server: the entry stays in memory.
  stream.on("error", () => {});
  const trail = new AuditTrail({ keep, earlier, sink: (line) => void stream.write(line) });
  return {
    trail,
    close: () =>
      new Promise<void>((resolve) => {
        stream.once("finish", () => resolve());
        stream.once("error", () => resolve());
        stream.end();
      }),
  };
}

function tail(text: string): AuditEntry[] {
  return text
    .split("\n")
    .slice(-keep - 1)
    .flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as AuditEntry] : [];
      } catch {
        return [];
      }
    });
}
