import type { Logger, Subscribable, ToolCallResult, ToolDescriptor, ToolSource } from "@xiaozhi-connect/core";
import { type ChangeSubscription, untilEvent } from "@xiaozhi-connect/core/testing";

/** A ToolSource for tests: calc__add, calc__echo and slow__wait, with counters and a change trigger. */
export class TestTools implements ToolSource {
  readonly specificationVersion = "v1" as const;
  readonly calls: string[] = [];
  readonly aborted: string[] = [];
  /** The signal each call received, in order. */
  readonly signals: AbortSignal[] = [];
  readonly #listeners = new Set<() => void>();
  /** Woken at every call and every abort. */
  readonly #activity = new Set<() => void>();
  tools: ToolDescriptor[] = [
    {
      name: "calc__add",
      description: "a + b",
      inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } },
    },
    {
      name: "calc__echo",
      description: "echo",
      inputSchema: { type: "object", properties: { text: { type: "string" } } },
    },
    { name: "slow__wait", description: "waits until cancelled", inputSchema: { type: "object" } },
  ];

  /** Set by a test whose tools are still on their way (see `ToolSource.ready`). */
  ready?: () => Promise<void> | undefined;

  listTools(): ToolDescriptor[] {
    return this.tools;
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    { signal }: { signal: AbortSignal },
  ): Promise<ToolCallResult> {
    this.calls.push(name);
    this.signals.push(signal);
    this.#active();
    if (name === "calc__add") return text(String(Number(args?.a) + Number(args?.b)));
    if (name === "calc__echo") return text(String(args?.text));
    if (name === "slow__wait") {
      return new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          this.aborted.push(name);
          this.#active();
          reject(signal.reason);
        });
      });
    }
    return { content: [{ type: "text", text: `Unknown tool: ${name}` }], isError: true };
  }

  onToolsChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once `count` calls have started, waking at each call; rejects after `timeoutMs`. */
  started(count: number, timeoutMs = 5000): Promise<void> {
    return untilEvent(this.#watch, () => this.calls.length >= count, timeoutMs, `${count} calls started`);
  }

  /** Resolves once `count` calls saw their signal abort, waking at each abort; rejects after `timeoutMs`. */
  cancelled(count: number, timeoutMs = 5000): Promise<void> {
    return untilEvent(this.#watch, () => this.aborted.length >= count, timeoutMs, `${count} calls cancelled`);
  }

  /** For a test that replaces `callTool`: tells the waiters a call started. */
  noteCall(name: string): void {
    this.calls.push(name);
    this.#active();
  }

  readonly #watch = (wake: () => void) => {
    this.#activity.add(wake);
    return () => this.#activity.delete(wake);
  };

  #active(): void {
    for (const wake of this.#activity) wake();
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  change(tools: ToolDescriptor[]): void {
    this.tools = tools;
    for (const listener of this.#listeners) listener();
  }
}

function text(value: string): ToolCallResult {
  return { content: [{ type: "text", text: value }] };
}

/** A logger that keeps every line as JSON, to scan for secrets. */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (object: unknown, message?: string) => {
    lines.push(JSON.stringify([object, message]));
  };
  return { lines, debug: log, info: log, warn: log, error: log };
}

export { untilEvent } from "@xiaozhi-connect/core/testing";

/** Subscriptions to some events of a manager (or any emitter), for `untilEvent`. */
export function eventsOf<E>(source: Subscribable<E>, ...events: (keyof E)[]): ChangeSubscription[] {
  return events.map((event) => (wake: () => void) => source.on(event, () => wake()));
}
