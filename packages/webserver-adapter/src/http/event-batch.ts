/** How long events gather before they go out together, ms. */
export const eventBatchMs = 20;
/** A batch this large (characters) goes out at once: the page reads a burst in pieces it can take. */
export const eventBatchChars = 64 * 1024;

/**
 * Server-sent events written a batch at a time: the events of `windowMs` go out in one write. A
 * reconnect storm at ten thousand endpoints is thousands of events a second; written one by one,
 * each is a chunk the page reads and pays for on its own. Nothing goes before `open()` (the
 * snapshot is written first, then what happened meanwhile), and nothing after `close()`.
 */
export class EventBatch {
  #queued: string[] = [];
  #chars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #open = false;
  #closed = false;

  constructor(
    private readonly write: (text: string) => Promise<unknown>,
    private readonly failed: () => void,
    private readonly windowMs = eventBatchMs,
  ) {}

  /** Queues one event; `data` is JSON text, which holds no line break. */
  send(event: string, data: string): void {
    if (this.#closed) return;
    const text = `event: ${event}\ndata: ${data}\n\n`;
    this.#queued.push(text);
    this.#chars += text.length;
    if (!this.#open) return;
    if (this.#chars >= eventBatchChars) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** The snapshot is out: what queued meanwhile follows it. */
  open(): void {
    this.#open = true;
    this.flush();
  }

  /** Writes what is queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || this.#queued.length === 0) return;
    const text = this.#queued.join("");
    this.#queued = [];
    this.#chars = 0;
    this.write(text).catch(this.failed);
  }

  /** Drops what is queued and stops. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queued = [];
    this.#chars = 0;
  }
}
