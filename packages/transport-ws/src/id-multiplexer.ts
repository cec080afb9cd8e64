/** What the multiplexer keeps up to date on a link: its two counts, and when it went idle. */
export interface MultiplexedLink {
  /** Requests of the far side not answered yet. */
  incoming: number;
  /** Requests sent to the far side not answered yet. */
  outgoing: number;
  /** The link's last request of the far side was answered (or will never be). */
  onIdle(): void;
}

/** A request of the far side being answered: its link and the id it came with. */
export interface IncomingRequest<L> {
  readonly link: L;
  readonly id: string | number;
}

/**
 * The request ids of many sockets over one SDK Server. A request of the far side gets an id unique
 * in the process on its way in (sockets pick their ids on their own, and may repeat one), and takes
 * its own back on its way out; a request the Server sends is tied to the link it went to, so only
 * that link can answer it. A message the Server sends names its link through the send's
 * `relatedRequestId`: the unique id of the request it relates to, or a route opened for it.
 */
export class IdMultiplexer<L extends MultiplexedLink> {
  readonly #incoming = new Map<number, IncomingRequest<L>>();
  /** Requests the Server sent, by id, with the link they went to. */
  readonly #outgoing = new Map<number, L>();
  readonly #routes = new Map<string, L>();
  #nextId = 1;
  #nextRoute = 1;

  /** Takes in a request `link` received with `id`; returns the id the Server sees. */
  admit(link: L, id: string | number): number {
    const unique = this.#nextId++;
    this.#incoming.set(unique, { link, id });
    link.incoming++;
    return unique;
  }

  /** Undoes `admit` for a request the Server refused at once: it was never under way. */
  withdraw(unique: number): void {
    const entry = this.#incoming.get(unique);
    if (!entry) return;
    this.#incoming.delete(unique);
    entry.link.incoming--;
  }

  /** The request behind a unique id, while it is unanswered. */
  incoming(unique: number): IncomingRequest<L> | undefined {
    return this.#incoming.get(unique);
  }

  /** The unique id of `link`'s unanswered request `id`; undefined when there is none. */
  uniqueOf(link: L, id: unknown): number | undefined {
    if (link.incoming === 0) return undefined;
    for (const [unique, entry] of this.#incoming) {
      if (entry.link === link && entry.id === id) return unique;
    }
    return undefined;
  }

  /**
   * Ends a request (answered, cancelled, past its deadline) and returns it; undefined when it had
   * ended already. Its link hears `onIdle` when this was its last.
   */
  settle(unique: number): IncomingRequest<L> | undefined {
    const entry = this.#incoming.get(unique);
    if (!entry) return undefined;
    this.#incoming.delete(unique);
    if (--entry.link.incoming === 0) entry.link.onIdle();
    return entry;
  }

  /** Forgets every unanswered request of a link that closed; returns their unique ids. */
  dropIncoming(link: L): number[] {
    const dropped: number[] = [];
    if (link.incoming === 0) return dropped;
    for (const [unique, entry] of this.#incoming) {
      if (entry.link !== link) continue;
      this.#incoming.delete(unique);
      dropped.push(unique);
    }
    link.incoming = 0;
    return dropped;
  }

  /** Records that the Server sent request `id` to `link`. */
  sent(id: number, link: L): void {
    this.#outgoing.set(id, link);
    link.outgoing++;
  }

  /** Takes `link`'s answer to request `id`: false when no such request went to that link. */
  answered(link: L, id: unknown): boolean {
    if (typeof id !== "number" || this.#outgoing.get(id) !== link) return false;
    this.#outgoing.delete(id);
    link.outgoing--;
    return true;
  }

  /** Forgets a request the Server gave up on (its timeout, its caller's signal); returns its link. */
  abandon(id: number): L | undefined {
    const link = this.#outgoing.get(id);
    if (!link) return undefined;
    this.#outgoing.delete(id);
    link.outgoing--;
    return link;
  }

  /** Forgets every request sent to a link that closed; returns their ids. */
  dropOutgoing(link: L): number[] {
    const dropped: number[] = [];
    if (link.outgoing === 0) return dropped;
    for (const [id, target] of this.#outgoing) {
      if (target !== link) continue;
      this.#outgoing.delete(id);
      dropped.push(id);
    }
    link.outgoing = 0;
    return dropped;
  }

  /**
   * Runs `send` with a route to `link`: a key to pass as the send's `relatedRequestId`, valid until
   * the returned promise settles (a request's answer, a notification's write).
   */
  route<T>(link: L, send: (route: string) => Promise<T>): Promise<T> {
    const route = `route-${this.#nextRoute++}`;
    this.#routes.set(route, link);
    let sending: Promise<T>;
    try {
      sending = send(route);
    } catch (error) {
      this.#routes.delete(route);
      throw error;
    }
    return sending.finally(() => this.#routes.delete(route));
  }

  /**
   * The link a message of the Server goes to, by the `relatedRequestId` of its send: a route, or
   * the unique id of the request it relates to. Undefined when that link is gone.
   */
  linkFor(relatedRequestId: unknown): L | undefined {
    if (typeof relatedRequestId === "string") return this.#routes.get(relatedRequestId);
    if (typeof relatedRequestId === "number") return this.#incoming.get(relatedRequestId)?.link;
    return undefined;
  }

  /** Requests in flight either way. */
  get pending(): number {
    return this.#incoming.size + this.#outgoing.size;
  }

  /** Routes open; for leak checks. */
  get routes(): number {
    return this.#routes.size;
  }
}
