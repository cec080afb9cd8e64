import { createConnection, createServer, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  token: string | undefined;
}

/**
 * A TCP relay on loopback in front of a server, able to black-hole links: bytes stop both ways
 * and no FIN or RST is sent, as when a NAT or relay in between loses its state. Only a heartbeat
 * can notice such a link.
 */
export class TcpRelay {
  readonly #pairs = new Set<Pair>();
  readonly #holes = new Set<string>();
  readonly #server: Server;
  #all = false;
  #port = 0;

  /** `targetPort` is read per link, so the relay follows a target that restarted on a new port. */
  constructor(private readonly targetPort: () => number) {
    this.#server = createServer((client) => this.#relay(client));
  }

  /** Listens on 127.0.0.1 at a random port. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.#port = typeof address === "object" && address ? address.port : 0;
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** Black-holes the links of one token (all links when none is given), current and future. */
  blackhole(token?: string): void {
    if (token === undefined) this.#all = true;
    else this.#holes.add(token);
  }

  /** Lets bytes flow again. */
  heal(token?: string): void {
    if (token === undefined) {
      this.#all = false;
      this.#holes.clear();
    } else this.#holes.delete(token);
  }

  /** Open relayed links. */
  get linkCount(): number {
    return this.#pairs.size;
  }

  async stop(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #holed(pair: Pair): boolean {
    return this.#all || (pair.token !== undefined && this.#holes.has(pair.token));
  }

  #relay(client: Socket): void {
    const upstream = createConnection({ host: "127.0.0.1", port: this.targetPort() });
    const pair: Pair = { client, upstream, token: undefined };
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.on("data", (chunk: Buffer) => {
      // The first bytes are the HTTP upgrade request, which names the token.
      pair.token ??= /[?&]token=([^\s&]+)/.exec(chunk.toString("latin1"))?.[1];
      if (!this.#holed(pair)) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!this.#holed(pair)) client.write(chunk);
    });
  }
}
