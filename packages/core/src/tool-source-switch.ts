import { XiaozhiError } from "./errors.js";
import { emptyToolSource, type ToolCallOptions, type ToolSource } from "./tool-source.js";

const requiredMembers = ["listTools", "callTool", "onToolsChanged"] as const;

/**
 * Throws `INVALID_CONFIG` naming what `source` lacks of the ToolSource contract's required
 * functions: plain JavaScript may pass half a source, which would otherwise fail later as a
 * `TypeError` far from where it was given. The optional members (`ready`, `dispose`) and
 * `specificationVersion`, which nothing reads yet, are not required.
 */
export function checkToolSource(source: unknown): asserts source is ToolSource {
  if (typeof source !== "object" || source === null) {
    throw new XiaozhiError("INVALID_CONFIG", `a tool source must be an object, got ${typeof source}`);
  }
  const missing = requiredMembers.filter(
    (member) => typeof (source as Record<string, unknown>)[member] !== "function",
  );
  if (missing.length > 0) {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `tool source lacks ${missing.join(", ")}: listTools, callTool and onToolsChanged must be functions`,
    );
  }
}

/**
 * A ToolSource that forwards to a replaceable one. Connections hold this stable object, so swapping
 * the real source (setServiceManager) reaches every endpoint as one `tools/list_changed`.
 */
export class ToolSourceSwitch implements ToolSource {
  readonly specificationVersion = "v1" as const;
  #source: ToolSource = emptyToolSource;
  #unsubscribe: () => void = () => {};
  readonly #listeners = new Set<() => void>();

  get current(): ToolSource {
    return this.#source;
  }

  /** Serves `source` from now on; throws `INVALID_CONFIG` for one lacking a required function. */
  set(source: ToolSource): void {
    if (source === this.#source) return;
    checkToolSource(source);
    this.#unsubscribe();
    this.#source = source;
    this.#unsubscribe = source.onToolsChanged(() => this.#changed());
    this.#changed();
  }

  listTools() {
    return this.#source.listTools();
  }

  ready(): Promise<void> | undefined {
    return this.#source.ready?.();
  }

  callTool(name: string, args: Record<string, unknown> | undefined, options: ToolCallOptions) {
    return this.#source.callTool(name, args, options);
  }

  onToolsChanged(listener: () => void): () => void {
    // Wrapped so one function subscribed by two connections stays two subscriptions.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Drops the underlying source's subscription; listeners stay until they unsubscribe. */
  detach(): void {
    this.#unsubscribe();
    this.#unsubscribe = () => {};
    this.#source = emptyToolSource;
  }

  #changed(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // A broken listener must not keep the others from hearing about the change.
      }
    }
  }
}
