import { type FSWatcher, statSync, watch } from "node:fs";
import { chmod, chown, readFile, realpath, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describeError, type Logger, silentLogger, XiaozhiError } from "@xiaozhi-connect/core";
import { editText } from "./config-edit.js";
import { type ConfigFormat, formatOf, parseText } from "./config-text.js";
import { type EnvReference, envReferences } from "./env-refs.js";
import { parseConfig, type UnknownField, unknownFields, type XiaozhiConfig } from "./schema.js";

/** A block of the config read only when the server starts. */
export type StartOnlyBlock = "cluster" | "strategies" | "webUI";

/** Where the running config came from, and how the last attempt to change it ended. */
export interface ConfigStatus {
  readonly path: string | null;
  /** Epoch ms of the last accepted change. */
  readonly loadedAt: number | null;
  /** Why the last change was rejected; null once one applies. */
  readonly lastError: string | null;
  /** The strings of the file that read the environment (`${NAME}`): where, and which variables. */
  readonly fromEnv?: readonly EnvReference[];
  /** Fields of the file nothing reads (a misspelt one is ignored, its setting missing). */
  readonly unknownFields?: readonly UnknownField[];
  /**
   * The blocks read only at the start (`cluster`, `strategies`, `webUI`) that changed since: they
   * apply when the server restarts. Absent while none did.
   */
  readonly restartNeeded?: readonly StartOnlyBlock[];
  /** The last attempt to apply a config: where it came from, and whether it applied. */
  readonly last?: {
    readonly source: "start" | "file" | "api" | "cluster" | "code";
    readonly outcome: "applied" | "rejected";
    readonly at: number;
  };
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
}

/**
 * A new version of the file, read: its config, or why it cannot be one. `version` counts the
 * file's versions (read or written); a read whose version is no longer `ConfigFile.version` was
 * overtaken by a later one.
 */
export type ConfigRead = { readonly version: number } & (
  | { readonly config: XiaozhiConfig }
  | { readonly error: Error }
);

/** A change to the file, validated but not written yet (see `ConfigFile.draft`). */
export interface ConfigDraft {
  /** The config the file will hold. */
  readonly config: XiaozhiConfig;
  /** False when the change found nothing to change (it returned false): `write()` writes nothing. */
  readonly changed: boolean;
  /** Writes it: atomically, and only what changed, so comments and formatting elsewhere stay. */
  write(): Promise<void>;
}

/**
 * `xiaozhi.config.json` on disk, as a source of text and a target of writes: it reads and
 * validates the file, tells its follower of each new version, and writes changes atomically. It
 * keeps no running state of its own beyond the text it last read or wrote (to recognise its own
 * writes and versions already seen). A symlinked file is followed: edits to its target are seen,
 * and writes go to the target, keeping the link, the mode and the owner.
 */
export class ConfigFile {
  #config: XiaozhiConfig | undefined;
  #text: string | undefined;
  readonly #watchers: FSWatcher[] = [];
  #polling: ReturnType<typeof setInterval> | undefined;
  /** The file's identity when its text was last read: what the poll compares with. */
  #seen = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading: Promise<unknown> = Promise.resolve();
  #version = 0;
  #references: readonly EnvReference[] = [];
  #unknown: readonly UnknownField[] = [];
  readonly #logger: Logger;

  /** How the file is written, from its extension (`.json5`, `.jsonc`, else `.json`). */
  readonly format: ConfigFormat;

  constructor(
    readonly path: string,
    private readonly options: ConfigFileOptions = {},
  ) {
    this.format = formatOf(path);
    this.#logger = options.logger ?? silentLogger;
  }

  /** Counts the versions of the file seen here, read or written. */
  get version(): number {
    return this.#version;
  }

  /** The strings of the config last read or written that take their value from the environment. */
  get references(): readonly EnvReference[] {
    return this.#references;
  }

  /** The fields of the text last read or written that nothing reads. */
  get unknownFields(): readonly UnknownField[] {
    return this.#unknown;
  }

  /** The config of the text last read or written; throws `NOT_CONFIGURED` before `load()`. */
  get config(): XiaozhiConfig {
    if (!this.#config) throw new XiaozhiError("NOT_CONFIGURED", `config ${this.path} is not loaded`);
    return this.#config;
  }

  /** Reads and validates the file. Throws `INVALID_CONFIG` when it is bad. */
  async load(): Promise<XiaozhiConfig> {
    this.#seen = this.#identity();
    const text = await readFile(this.path, "utf8");
    const { config, unknown } = this.#read(text);
    this.#keep(config, text, unknown);
    return config;
  }

  /** Validates a text; what it has that nothing reads is found in it as written (validation drops it). */
  #read(text: string): { config: XiaozhiConfig; unknown: readonly UnknownField[] } {
    const raw = parseText(text, this.format);
    return { config: parseConfig(raw), unknown: unknownFields(raw) };
  }

  /**
   * Watches the file (editors that save by rename included) and hands each new version to
   * `follower`, read and validated, or with why it could not be (unreadable, not valid JSON, a bad
   * field). Versions it wrote itself, and the text it last read, are not handed on.
   */
  watch(follower: (read: ConfigRead) => void | Promise<void>): void {
    if (this.#polling) return;
    const schedule = () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#reading = this.#reading.then(() => this.#reload(follower));
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
   * Reads the file as it is now and applies `change` to its raw value (an edit not yet followed
   * survives, as do fields the schema does not know), validating the result; nothing is written
   * until the draft's `write()`. A change that returns false found nothing to change: its draft
   * writes nothing, so a file that cannot be edited in place is not rewritten for nothing. Throws
   * `INVALID_CONFIG` when the file on disk, or the change, is not valid. Drafts are meant one at a
   * time (their writer serialises them).
   */
  async draft(change: (raw: Record<string, unknown>) => unknown): Promise<ConfigDraft> {
    const target = await realpath(this.path).catch(() => this.path);
    let current: string;
    try {
      current = await readFile(target, "utf8");
    } catch (error) {
      // Deleted under us: write the last config back rather than fail the change.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || this.#text === undefined) throw error;
      this.#logger.warn({ path: this.path }, "config file was missing; writing the running config back");
      current = this.#text;
    }
    // Edit the raw value, not the parsed config: the schema drops fields it does not know.
    const before = parseText(current, this.format);
    const was = parseConfig(before);
    const raw = structuredClone(before) as Record<string, unknown>;
    if (change(raw) === false) return { config: was, changed: false, write: async () => {} };
    const config = parseConfig(raw);
    return {
      config,
      changed: true,
      write: async () => {
        // Only what changed is rewritten: comments and formatting elsewhere stay.
        const edited = editText(current, before, raw, this.format);
        if (!edited.preserved) {
          this.#logger.warn(
            { path: this.path },
            "config rewritten without its comments (its JSON5 syntax cannot be edited in place)",
          );
        }
        await writeAtomically(target, edited.text);
        this.#seen = this.#identity();
        this.#keep(config, edited.text, unknownFields(raw));
      },
    };
  }

  /** Drafts `change` and writes it at once; resolves with the new config. */
  async update(change: (raw: Record<string, unknown>) => unknown): Promise<XiaozhiConfig> {
    const draft = await this.draft(change);
    await draft.write();
    return draft.config;
  }

  close(): void {
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    if (this.#polling) clearInterval(this.#polling);
    this.#polling = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #reload(follower: (read: ConfigRead) => void | Promise<void>): Promise<void> {
    let text: string;
    this.#seen = this.#identity();
    const before = this.#version;
    try {
      text = await readFile(this.path, "utf8");
      // A write of ours landed while this read was under way, so the text may be older than it
      // (applied, it would undo that write): read again. The write kept whatever was on disk.
      if (this.#version !== before) return this.#reload(follower);
    } catch (error) {
      // Mid-rename or deleted: the next event (or none) decides; the running config stays.
      this.options.onCheck?.(true);
      await follower({
        version: ++this.#version,
        error: new XiaozhiError("INVALID_CONFIG", `config unreadable: ${describeError(error)}`),
      });
      return;
    }
    if (text === this.#text) {
      this.options.onCheck?.(false);
      return;
    }
    this.options.onCheck?.(true);
    // Seen once, good or bad: the same text again is no new version.
    this.#text = text;
    const version = ++this.#version;
    let config: XiaozhiConfig;
    let unknown: readonly UnknownField[];
    try {
      ({ config, unknown } = this.#read(text));
    } catch (error) {
      await follower({ version, error: error as Error });
      return;
    }
    this.#config = config;
    this.#references = referencesOf(text, this.format);
    this.#setUnknown(unknown);
    this.#logger.info({ path: this.path }, "config changed on disk");
    await follower({ version, config });
  }

  #keep(config: XiaozhiConfig, text: string, unknown: readonly UnknownField[]): void {
    this.#config = config;
    this.#references = referencesOf(text, this.format);
    this.#setUnknown(unknown);
    this.#text = text;
    this.#version++;
  }

  /** Keeps the fields nothing reads, and logs each one new since the last version. */
  #setUnknown(unknown: readonly UnknownField[]): void {
    const before = new Set(this.#unknown.map((field) => field.path));
    this.#unknown = unknown;
    for (const { path: field, meant, xiaozhiClient } of unknown) {
      if (before.has(field)) continue;
      if (xiaozhiClient)
        this.#logger.info({ field }, `config: ${field} is xiaozhi-client's own setting; it is not used here`);
      else
        this.#logger.warn(
          { field, ...(meant === undefined ? {} : { meant }) },
          `config: ${field} is not a field xiaozhi-connect reads; it is ignored${meant ? ` (did you mean ${meant}?)` : ""}`,
        );
    }
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

/** The references of a text already known to parse. */
function referencesOf(text: string, format: ConfigFormat): readonly EnvReference[] {
  return text.includes("${") ? envReferences(parseText(text, format)) : [];
}
