/** A listener for one event type. */
export type Listener<T> = (event: T) => void;

/** Subscribe to an event; returns the function that unsubscribes. */
export interface Subscribable<Events> {
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
}

/**
 * A small typed event emitter with no Node dependency. A throwing listener never stops delivery
 * to the others nor the emitter's caller: the error goes to `onListenerError`.
 */
export class Emitter<Events> implements Subscribable<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    // Wrap so the same function subscribed twice needs two unsubscribes, like EventEmitter.
    const entry = ((payload: Events[K]) => listener(payload)) as Listener<never>;
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#listeners.get(event) === set) this.#listeners.delete(event);
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Listeners for one event, or for all events when none is named. */
  listenerCount(event?: keyof Events): number {
    if (event !== undefined) return this.#listeners.get(event)?.size ?? 0;
    let total = 0;
    for (const set of this.#listeners.values()) total += set.size;
    return total;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
