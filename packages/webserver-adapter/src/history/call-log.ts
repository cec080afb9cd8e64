import { redact, type ToolCallOptions, type ToolCallResult, type ToolSource } from "@xiaozhi-connect/core";

/** One tool call as the call log keeps it: arguments and result as masked, bounded JSON text. */
export interface CallLogEntry {
  readonly at: number;
  /** The caller's endpoint id (`ep-…`), or `client:<name>` for an MCP client on `/mcp`. */
  readonly endpoint?: string;
  readonly agent?: string;
  readonly tool: string;
  readonly ms: number;
  readonly arguments: string;
  readonly result?: string;
  readonly error?: string;
  readonly isError?: boolean;
}

/** Whether the call log is on, for what, and until when. */
export interface CallLogState {
  readonly on: boolean;
  /** Only this endpoint's calls (its id); every call when absent. */
  readonly endpoint?: string;
  /** Epoch ms it turns itself off. */
  readonly until?: number;
}

export interface CallLogOptions {
  /** Bytes of arguments, and of a result, kept per call; default 4 KiB each. */
  readonly maxValueBytes?: number;
  /** Bytes kept in all; the oldest calls go first. Default 1 MiB. */
  readonly maxTotalBytes?: number;
  readonly now?: () => number;
}

/** Longest a call log may stay on, in minutes: it is for debugging, not for keeping. */
export const maxCallLogMinutes = 24 * 60;

/** Keys whose values are secrets wherever they appear in arguments or results. */
const secretKey =
  /token|passw|secret|authoriz|cookie|api[-_]?key|access[-_]?key|private[-_]?key|^key$|[-_]key$/i;

/**
 * An opt-in log of what tools were asked and what they answered, for debugging an agent. Off by
 * default; turned on for a while (globally or for one endpoint) and off again by itself. Values
 * under secret-looking keys are masked, and so are tokens in URLs. Each value is cut to a bound
 * and the whole log is bounded. Nothing is kept while it is off: turning it off, or its expiry,
 * drops every entry, and nothing of it is logged or written anywhere.
 */
export class CallLog {
  #state: CallLogState = { on: false };
  #entries: { entry: CallLogEntry; bytes: number }[] = [];
  #bytes = 0;
  readonly #maxValue: number;
  readonly #maxTotal: number;
  readonly #now: () => number;

  constructor(options: CallLogOptions = {}) {
    this.#maxValue = options.maxValueBytes ?? 4096;
    this.#maxTotal = options.maxTotalBytes ?? 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  /** Turns it on for `minutes` (1 to a day; default 60), for one endpoint or every call. */
  start(options: { readonly minutes?: number; readonly endpoint?: string } = {}): CallLogState {
    const minutes = Math.min(Math.max(Math.round(options.minutes ?? 60), 1), maxCallLogMinutes);
    this.#state = {
      on: true,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      until: this.#now() + minutes * 60_000,
    };
    return this.#state;
  }

  /** Turns it off and forgets every entry. */
  stop(): void {
    this.#state = { on: false };
    this.#entries = [];
    this.#bytes = 0;
  }

  get state(): CallLogState {
    this.#expire();
    return this.#state;
  }

  /** What it holds, newest first. */
  entries(): CallLogEntry[] {
    this.#expire();
    return this.#entries.map(({ entry }) => entry).reverse();
  }

  /** `source` with its calls logged while the log is on; everything else passes through. */
  wrap(source: ToolSource): ToolSource {
    const callTool = (name: string, args: Record<string, unknown> | undefined, options: ToolCallOptions) => {
      const state = this.state;
      const endpoint = options?.caller?.endpointId;
      if (!state.on || (state.endpoint !== undefined && state.endpoint !== endpoint)) {
        return source.callTool(name, args, options);
      }
      return this.#logged(source, name, args, options);
    };
    return new Proxy(source, {
      get(target, property) {
        if (property === "callTool") return callTool;
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  async #logged(
    source: ToolSource,
    name: string,
    args: Record<string, unknown> | undefined,
    options: ToolCallOptions,
  ) {
    const started = this.#now();
    const caller = options?.caller;
    const base = {
      at: started,
      ...(caller?.endpointId ? { endpoint: caller.endpointId } : {}),
      ...(caller?.name ? { agent: caller.name } : {}),
      tool: name,
      arguments: this.#text(args),
    };
    try {
      const result: ToolCallResult = await source.callTool(name, args, options);
      this.#add({
        ...base,
        ms: this.#now() - started,
        result: this.#text(result),
        ...(result.isError ? { isError: true } : {}),
      });
      return result;
    } catch (error) {
      this.#add({
        ...base,
        ms: this.#now() - started,
        error: redact(error instanceof Error ? error.message : String(error)),
      });
      throw error;
    }
  }

  #add(entry: CallLogEntry): void {
    // Turned off while the call ran: it is not kept.
    if (!this.state.on) return;
    const bytes = entry.arguments.length + (entry.result?.length ?? 0) + 200;
    this.#entries.push({ entry, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.#maxTotal && this.#entries.length > 1) {
      this.#bytes -= this.#entries.shift()?.bytes ?? 0;
    }
  }

  #text(value: unknown): string {
    const text = JSON.stringify(mask(value)) ?? "null";
    if (Buffer.byteLength(text) <= this.#maxValue) return text;
    const cut = Buffer.from(text)
      .subarray(0, this.#maxValue)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    return `${cut}… [cut: ${Buffer.byteLength(text)} bytes]`;
  }

  #expire(): void {
    if (this.#state.on && (this.#state.until ?? 0) <= this.#now()) this.stop();
  }
}

/** A copy with secret-looking keys' values masked and tokens in URLs masked. */
function mask(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redact(maskJsonText(value, depth));
  if (depth > 20 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => mask(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      secretKey.test(key) ? "<masked>" : mask(item, depth + 1),
    ]),
  );
}

/** JSON text longer than this is kept as text: parsing it would cost more than the log is worth. */
const maxJsonText = 256 * 1024;

/**
 * Tools often answer with JSON written as text (`{"api_key": "…"}` in a text content): its
 * secret-looking keys are masked as an object's are. Text that is not JSON, or has nothing to
 * mask, stays as it was.
 */
function maskJsonText(text: string, depth: number): string {
  if (depth > 20 || text.length > maxJsonText || !/^\s*[[{]/.test(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const masked = JSON.stringify(mask(parsed, depth + 1));
  return masked === JSON.stringify(parsed) ? text : masked;
}
