import { type FSWatcher, statSync, watch } from "node:fs";
import { chmod, chown, readFile, realpath, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describeError, type Logger, redact, silentLogger, XiaozhiError } from "@xiaozhi-connect/core";
import { parseConfig, parseConfigText, type XiaozhiConfig } from "./config.js";
import { editText } from "./config-edit.js";
import { type ConfigFormat, formatOf, parseText } from "./config-text.js";

/** Where the running config came from and whether the last change was accepted. */
export interface ConfigStatus {
  readonly path: string | null;
  /** Epoch ms of the last accepted load. */
  readonly loadedAt: number | null;
  /** Why the last change on disk was rejected; null once a valid version loads. */
  readonly lastError: string | null;
}

export interface ConfigFileOptions {
  readonly logger?: Logger;
  /** Changes closer together than this are read once; default 100 ms. */
  readonly debounceMs?: number;
  /**
   * The file is also checked this often (ms) by its metadata, which notices what directory watches
   * cannot: a replaced directory, a re-pointed symlink, an edit to a symlink's target elsewhere.
   * Default 2000.
   */
  readonly pollMs?: number;
  /** Called after every check of the file the watch makes, with whether it found a change. */
  readonly onCheck?: (changed: boolean) => void;
  readonly now?: () => number;
}

/**
 * `xiaozhi.config.json` on disk: loads and validates it, watches it, and writes it atomically.
 * A rejected change (bad JSON, schema error) keeps the last valid config and is reported in
 * `status()`. Its own writes are recognised, so saving never triggers a reload. A symlinked file is
 * followed: edits to its target apply, and writes go to the target, keeping the link, the mode and
 * the owner.
 */
export class ConfigFile {
  #config: XiaozhiConfig | undefined;
  #text: string | undefined;
  #loadedAt: number | null = null;
  #lastError: string | null = null;
  readonly #watchers: FSWatcher[] = [];
  #polling: ReturnType<typeof setInterval> | undefined;
  /** The file's identity when its text was last read: what the poll compares with. */
  #seen = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<unknown> = Promise.resolve();
  /** Counts this file's own writes, so a reload overtaken by one knows it applied old text. */
  #generation = 0;
  readonly #logger: Logger;
  readonly #now: () => number;

  /** How the file is written, from its extension (`.json5`, `.jsonc`, else `.json`). */
  readonly format: ConfigFormat;

  constructor(
    readonly path: string,
    private readonly options: ConfigFileOptions = {},
  ) {
    this.format = formatOf(path);
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** The last valid config; throws `NOT_CONFIGURED` before the first successful `load()`. */
  get config(): XiaozhiConfig {
    if (!this.#config) throw new XiaozhiError("NOT_CONFIGURED", `config ${this.path} is not loaded`);
    return this.#config;
  }

  status(): ConfigStatus {
    return { path: this.path, loadedAt: this.#loadedAt, lastError: this.#lastError };
  }

  /** Reads and validates the file. Throws `INVALID_CONFIG` (and keeps the old config) when it is bad. */
  async load(): Promise<XiaozhiConfig> {
    this.#seen = this.#identity();
    const text = await readFile(this.path, "utf8");
    return this.#accept(text);
  }

  /**
   * Watches the file (editors that save by rename included) and hands each new valid version to
   * `apply`. A version that does not parse, or that `apply` rejects, leaves the running config as it
   * is and is reported in `status().lastError`; any later successful read clears it, the very text
   * that is running included. `onStatus` hears of every change of `status()`.
   */
  watch(
    apply: (config: XiaozhiConfig) => void | Promise<void>,
    onStatus: (status: ConfigStatus) => void = () => {},
  ): void {
    if (this.#polling) return;
    const schedule = () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#reload(apply, onStatus);
      }, this.options.debounceMs ?? 100);
    };
    // Compared with what was last read, not with the previous poll: a change made before the first
    // poll (a directory swapped right after start) is seen too.
    const poll = () => {
      if (this.#identity() !== this.#seen) schedule();
    };
    this.#polling = setInterval(poll, this.options.pollMs ?? 2000);
    this.#polling.unref();
    // Directory watches are the fast path: the link's own directory, and the target's when it differs.
    this.#watchDirectory(this.path, schedule);
    void realpath(this.path).then(
      (target) => {
        if (target !== this.path && this.#polling) this.#watchDirectory(target, schedule);
      },
      () => {},
    );
  }

  /** Inode, size and modification time of the file (through a symlink), or "" while it is missing. */
  #identity(): string {
    try {
      const stats = statSync(this.path);
      return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    } catch {
      return "";
    }
  }

  #watchDirectory(file: string, schedule: () => void): void {
    const name = basename(file);
    try {
      const watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) schedule();
      });
      watcher.on("error", (error) => this.#logger.warn({ err: describeError(error) }, "config watch failed"));
      this.#watchers.push(watcher);
    } catch (error) {
      this.#logger.warn({ err: describeError(error) }, "config watch failed; checking by polling only");
    }
  }

  /**
   * Changes the file: `change` edits the raw JSON as it is on disk now (an edit not yet reloaded
   * survives, as do unknown fields), and the result is validated. `prepare`, when given, then checks
   * and builds what the new config needs and returns how to apply it; when it throws, nothing is
   * written. The text is written to a temporary file and renamed over the original (the target of a
   * symlink), so a reader never sees half a file, and then the change is applied. Writes are
   * serialised. Throws `INVALID_CONFIG` when the file on disk is not valid. Resolves with the new config.
   */
  update(
    change: (raw: Record<string, unknown>) => void,
    prepare?: (config: XiaozhiConfig) => Promise<() => Promise<void>>,
  ): Promise<XiaozhiConfig> {
    const run = this.#writing.then(async () => {
      const target = await realpath(this.path).catch(() => this.path);
      let current: string;
      try {
        current = await readFile(target, "utf8");
      } catch (error) {
        // Deleted under us: write the running config back rather than fail the change.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || this.#text === undefined) throw error;
        this.#logger.warn({ path: this.path }, "config file was missing; writing the running config back");
        current = this.#text;
      }
      // Edit the raw value, not the parsed config: the schema drops fields it does not know.
      const before = parseText(current, this.format);
      parseConfig(before);
      const raw = structuredClone(before) as Record<string, unknown>;
      change(raw);
      const config = parseConfig(raw);
      const commit = prepare ? await prepare(config) : undefined;
      // Only what changed is rewritten: comments and formatting elsewhere stay.
      const edited = editText(current, before, raw, this.format);
      if (!edited.preserved) {
        this.#logger.warn(
          { path: this.path },
          "config rewritten without its comments (its JSON5 syntax cannot be edited in place)",
        );
      }
      const text = edited.text;
      await writeAtomically(target, text);
      this.#seen = this.#identity();
      this.#generation++;
      this.#commit(config, text);
      await commit?.();
      return config;
    });
    this.#writing = run.catch(() => {});
    return run;
  }

  close(): void {
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    if (this.#polling) clearInterval(this.#polling);
    this.#polling = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #reload(
    apply: (config: XiaozhiConfig) => void | Promise<void>,
    onStatus: (status: ConfigStatus) => void,
  ): Promise<void> {
    await this.#writing;
    let text: string;
    this.#seen = this.#identity();
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      // Mid-rename or deleted: the next event (or none) decides; the running config stays.
      this.#reject(
        new XiaozhiError("INVALID_CONFIG", `config unreadable: ${describeError(error)}`),
        onStatus,
      );
      return;
    }
    if (text === this.#text) {
      // The running text again (an edit undone): whatever was rejected in between no longer stands.
      if (this.#lastError !== null) {
        this.#lastError = null;
        onStatus(this.status());
      }
      this.options.onCheck?.(false);
      return;
    }
    this.options.onCheck?.(true);
    let config: XiaozhiConfig;
    const generation = this.#generation;
    try {
      config = this.#parse(text);
      await apply(config);
      // Writes of ours that landed while this applied read the file first, so they hold this
      // change and more: apply what they wrote again, last, so what runs matches the file.
      for (let seen = generation, tries = 0; this.#generation !== seen && tries < 10; tries++) {
        seen = this.#generation;
        await apply(this.config);
      }
    } catch (error) {
      this.#reject(error as Error, onStatus);
      return;
    }
    if (this.#generation !== generation) {
      this.#lastError = null;
      this.#logger.info({ path: this.path }, "config reloaded");
      onStatus(this.status());
      return;
    }
    this.#commit(config, text);
    this.#logger.info({ path: this.path }, "config reloaded");
    onStatus(this.status());
  }

  /** Parses and validates; on failure records why and throws. */
  #parse(text: string): XiaozhiConfig {
    try {
      return parseConfigText(text, this.format);
    } catch (error) {
      this.#lastError = redact(describeError(error));
      throw error;
    }
  }

  #accept(text: string): XiaozhiConfig {
    const config = this.#parse(text);
    this.#commit(config, text);
    return config;
  }

  #commit(config: XiaozhiConfig, text: string): void {
    this.#config = config;
    this.#text = text;
    this.#loadedAt = this.#now();
    this.#lastError = null;
  }

  #reject(error: Error, onStatus: (status: ConfigStatus) => void): void {
    this.#lastError = redact(describeError(error));
    this.#logger.warn(
      { path: this.path, err: this.#lastError },
      "config change rejected; the running config stays",
    );
    onStatus(this.status());
  }
}

/**
 * Writes `text` to a temporary file beside `target` and renames it over `target`, so a reader never
 * sees half a file; the target's mode and owner carry over (0600 for a new file).
 */
async function writeAtomically(target: string, text: string): Promise<void> {
  const before = await stat(target).catch(() => undefined);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(temp, text, { mode: 0o600 });
    // The umask shapes a new file's mode; set the original's explicitly.
    await chmod(temp, before ? before.mode & 0o7777 : 0o600);
    if (before) await chown(temp, before.uid, before.gid).catch(() => {});
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
