import { createConnection, createServer, type Server, type Socket } from "node:net";

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
}

/**
 * A TCP proxy on loopback in front of a server (here: one instance's path to Redis). It can stall
 * the path (bytes held both ways and delivered in order when it heals, as TCP does through a
 * short partition), slow it down, or reset it (every connection dropped, new ones too).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  /** Chunks held while stalled, in order, with their destination. */
  readonly #held: { readonly to: Socket; readonly chunk: Buffer }[] = [];
  readonly #queues = new Map<Socket, { at: number; chunk: Buffer }[]>();
  #stalled = false;
  #reset = false;
  #delayMs = 0;
  #port = 0;

  constructor(private readonly targetPort: () => number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.#port = typeof address === "object" && address ? address.port : 0;
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** Holds every byte both ways until `heal`. */
  stall(): void {
    this.#stalled = true;
  }

  /** Delays every chunk by `ms` (0: none), order kept. */
  slow(ms: number): void {
    this.#delayMs = ms;
  }

  /** Drops every connection, and each new one at once, until `heal`. */
  reset(): void {
    this.#reset = true;
    for (const link of this.#links) this.#end(link);
  }

  heal(): void {
    this.#stalled = false;
    this.#reset = false;
    this.#delayMs = 0;
    for (const { to, chunk } of this.#held.splice(0)) if (!to.destroyed) this.#forward(to, chunk);
  }

  async stop(): Promise<void> {
    for (const link of this.#links) this.#end(link);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#reset) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: this.targetPort() });
    const link = { client, upstream };
    this.#links.add(link);
    const end = () => this.#end(link);
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.on("data", (chunk: Buffer) => this.#forward(upstream, chunk));
    upstream.on("data", (chunk: Buffer) => this.#forward(client, chunk));
  }

  #forward(to: Socket, chunk: Buffer): void {
    if (this.#stalled || this.#held.length > 0) {
      this.#held.push({ to, chunk });
      return;
    }
    // Each direction is a queue: a slowed chunk still ahead keeps every later one behind it.
    const queue = this.#queues.get(to) ?? [];
    this.#queues.set(to, queue);
    queue.push({ at: Date.now() + this.#delayMs, chunk });
    if (queue.length === 1) this.#drain(to, queue);
  }

  #drain(to: Socket, queue: { at: number; chunk: Buffer }[]): void {
    for (let next = queue[0]; next; next = queue[0]) {
      const wait = next.at - Date.now();
      if (wait > 0) {
        setTimeout(() => this.#drain(to, queue), wait);
        return;
      }
      queue.shift();
      if (!to.destroyed) to.write(next.chunk);
    }
    this.#queues.delete(to);
  }

  #end(link: Link): void {
    this.#links.delete(link);
    link.client.destroy();
    link.upstream.destroy();
  }
}
