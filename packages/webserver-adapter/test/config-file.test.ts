import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigFile, type ConfigRead, type XiaozhiConfig } from "../src/index.js";

const files: ConfigFile[] = [];
afterEach(() => {
  for (const file of files.splice(0)) file.close();
});

const endpoint = (n: number) => `ws://127.0.0.1:1/mcp/?token=t${n}`;
const write = (path: string, endpoints: string[]) =>
  writeFileSync(path, `${JSON.stringify({ mcpEndpoint: endpoints, other: { kept: true } }, null, 2)}\n`);

/** Starts following `file` and resolves with the next config it reports, or rejects after 8 s. */
function follow(file: ConfigFile) {
  const changes: XiaozhiConfig[] = [];
  const wakers = new Set<() => void>();
  file.watch((read) => {
    if ("error" in read) throw read.error;
    changes.push(read.config);
    for (const wake of wakers) wake();
  });
  return {
    changes,
    next: (count: number) =>
      new Promise<XiaozhiConfig>((resolve, reject) => {
        const check = () => {
          const found = changes[count - 1];
          if (!found) return;
          clearTimeout(timer);
          wakers.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => reject(new Error(`change ${count} not seen within 8 s`)), 8000);
        wakers.add(check);
        check();
      }),
  };
}

describe("ConfigFile on a real file system", () => {
  it("logs each field nothing reads when it is first read, and keeps them for the status", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-cf-"));
    const path = join(dir, "xiaozhi.config.json");
    writeFileSync(
      path,
      JSON.stringify({ mcpEndpoint: [endpoint(1)], mcpServer: {}, conection: {}, tts: {} }),
    );
    const lines: string[] = [];
    const log = (_: unknown, message?: string) => void lines.push(message ?? "");
    const file = new ConfigFile(path, {
      logger: {
        debug: () => {},
        info: log,
        warn: (o: unknown, m?: string) => log(o, `warn ${m}`),
        error: log,
      },
    });
    files.push(file);
    await file.load();
    expect(file.unknownFields).toEqual([
      { path: "mcpServer", meant: "mcpServers" },
      { path: "conection", meant: "connection" },
      { path: "tts", xiaozhiClient: true },
    ]);
    expect(lines).toEqual([
      "warn config: mcpServer is not a field xiaozhi-connect reads; it is ignored (did you mean mcpServers?)",
      "warn config: conection is not a field xiaozhi-connect reads; it is ignored (did you mean connection?)",
      "config: tts is xiaozhi-client's own setting; it is not used here",
    ]);
    // A write that keeps them does not log them again.
    await file.update((raw) => {
      raw.mcpEndpoint = [endpoint(2)];
    });
    expect(lines).toHaveLength(3);
    expect(file.unknownFields).toHaveLength(3);
  });

  it("numbers its versions, so a reload overtaken by one of its own writes can be told apart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-race-"));
    const path = join(dir, "xiaozhi.config.json");
    write(path, [endpoint(0)]);
    const file = new ConfigFile(path, { debounceMs: 5, pollMs: 60_000 });
    files.push(file);
    await file.load();
    const reads: ConfigRead[] = [];
    let entered: () => void = () => {};
    const seen = new Promise<void>((resolve) => {
      entered = resolve;
    });
    file.watch((read) => {
      reads.push(read);
      entered();
    });
    write(path, [endpoint(0), endpoint(1)]);
    await seen;
    const read = reads[0] as ConfigRead & { config: XiaozhiConfig };
    expect(read.config.mcpEndpoint).toEqual([endpoint(0), endpoint(1)]);
    expect(read.version).toBe(file.version);
    // A write drafted from the file as it is now holds that edit and more, and is a newer version.
    await file.update((raw) => {
      raw.mcpEndpoint = [...(raw.mcpEndpoint as string[]), endpoint(2)];
    });
    expect(file.version).toBeGreaterThan(read.version);
    expect(JSON.parse(readFileSync(path, "utf8")).mcpEndpoint).toEqual([
      endpoint(0),
      endpoint(1),
      endpoint(2),
    ]);
    expect(file.config.mcpEndpoint).toEqual([endpoint(0), endpoint(1), endpoint(2)]);
  });

  it("follows a symlinked config: edits to the target apply, writes go to the target and keep the link", async () => {
    const root = mkdtempSync(join(tmpdir(), "xz-link-"));
    mkdirSync(join(root, "real"));
    mkdirSync(join(root, "home"));
    const target = join(root, "real", "xiaozhi.config.json");
    const link = join(root, "home", "xiaozhi.config.json");
    write(target, [endpoint(1)]);
    symlinkSync(target, link);
    const file = new ConfigFile(link, { debounceMs: 20, pollMs: 100 });
    files.push(file);
    await file.load();
    const seen = follow(file);

    write(target, [endpoint(1), endpoint(2)]);
    expect((await seen.next(1)).mcpEndpoint).toEqual([endpoint(1), endpoint(2)]);

    await file.update((raw) => {
      raw.mcpEndpoint = [endpoint(3)];
    });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(target, "utf8"))).toEqual({
      mcpEndpoint: [endpoint(3)],
      other: { kept: true },
    });
  });

  it("keeps the file's mode on write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-mode-"));
    const path = join(dir, "xiaozhi.config.json");
    write(path, [endpoint(1)]);
    await chmod(path, 0o640);
    const file = new ConfigFile(path);
    files.push(file);
    await file.load();
    const owner = statSync(path);
    await file.update((raw) => {
      raw.mcpEndpoint = [endpoint(2)];
    });
    const after = statSync(path);
    expect(after.mode & 0o777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([owner.uid, owner.gid]);
  });

  it("notices a config directory replaced by another one", async () => {
    const root = mkdtempSync(join(tmpdir(), "xz-dir-"));
    const dir = join(root, "config");
    mkdirSync(dir);
    const path = join(dir, "xiaozhi.config.json");
    write(path, [endpoint(1)]);
    const file = new ConfigFile(path, { debounceMs: 20, pollMs: 100 });
    files.push(file);
    await file.load();
    const seen = follow(file);

    // What a deploy that swaps a whole directory does: the watched directory is no longer the one.
    renameSync(dir, join(root, "config.old"));
    mkdirSync(dir);
    write(path, [endpoint(7)]);
    expect((await seen.next(1)).mcpEndpoint).toEqual([endpoint(7)]);
  });
});
