/** A listener for one event type. */
export type Listener<T> = (event: T) => void;

/** An object that takes every event it has a method for, each method named after its event. */
export type Observer<Events> = { readonly [K in keyof Events]?: (payload: Events[K]) => void };

/** Subscribe to an event; returns the function that unsubscribes. */
export interface Subscribable<Events> {
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
}

/**
 * Gives `observer` the `events` of `source`: through its `observe` when it has one (one object
 * instead of a listener per event), else with a listener per event. Returns what unsubscribes.
 */
export function observeEvents<Events>(
  source: Subscribable<Events> & { observe?(observer: Observer<Events>): () => void },
  observer: Observer<Events>,
  events: readonly (keyof Events)[],
): () => void {
  if (source.observe) return source.observe(observer);
  const subscriptions = events.map((event) => source.on(event, (payload) => observer[event]?.(payload)));
  return () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  };
}

/**
 * A small typed event emitter with no Node dependency. A throwing listener never stops delivery
 * to the others nor the emitter's caller: the error goes to `onListenerError`.
 */
export class Emitter<Events> implements Subscribable<Events> {
  // Per event one listener, or an array of them that is replaced, never changed: an emit in
  // progress keeps the listeners it started with. Made on the first subscription.
  #listeners: Map<keyof Events, Listener<never> | readonly Listener<never>[]> | undefined;
  // One observer, or an array of them that is replaced, never changed, like the arrays above.
  #observers: Observer<Events> | readonly Observer<Events>[] | undefined;

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    this.#listeners ??= new Map();
    const listeners = this.#listeners;
    const current = listeners.get(event);
    const added = listener as Listener<never>;
    listeners.set(
      event,
      current === undefined ? added : typeof current === "function" ? [current, added] : [...current, added],
    );
    // The same function subscribed twice needs two unsubscribes, like EventEmitter.
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#remove(event, added);
    };
  }

  /**
   * Subscribes one object to every event it has a method for; returns the function that
   * unsubscribes. One object for many events costs less than one listener per event.
   */
  observe(observer: Observer<Events>): () => void {
    const current = this.#observers;
    this.#observers =
      current === undefined
        ? observer
        : Array.isArray(current)
          ? [...current, observer]
          : [current, observer];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const rest = this.#observerList().filter((each) => each !== observer);
      this.#observers = rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest;
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const current = this.#listeners?.get(event) as Listener<Events[K]> | readonly Listener<Events[K]>[];
    if (typeof current === "function") this.#call(current, payload);
    else if (current !== undefined) for (const listener of current) this.#call(listener, payload);
    const observers = this.#observers;
    if (observers === undefined) return;
    if (!Array.isArray(observers)) this.#notify(observers as Observer<Events>, event, payload);
    else for (const observer of observers) this.#notify(observer, event, payload);
  }

  /** Listeners for one event, or for all events when none is named. */
  listenerCount(event?: keyof Events): number {
    // Called before every emit that would build a payload, so it allocates nothing when no one
    // listens.
    if (event !== undefined) {
      const count = listenersIn(this.#listeners?.get(event));
      if (this.#observers === undefined) return count;
      return count + this.#observerList().filter((observer) => observer[event] !== undefined).length;
    }
    let total = this.#observers === undefined ? 0 : this.#observerList().length;
    if (this.#listeners) for (const value of this.#listeners.values()) total += listenersIn(value);
    return total;
  }

  removeAllListeners(): void {
    this.#listeners = undefined;
    this.#observers = undefined;
  }

  #observerList(): readonly Observer<Events>[] {
    const observers = this.#observers;
    return observers === undefined
      ? []
      : Array.isArray(observers)
        ? observers
        : [observers as Observer<Events>];
  }

  #notify<K extends keyof Events>(observer: Observer<Events>, event: K, payload: Events[K]): void {
    if (observer[event] === undefined) return;
    try {
      observer[event](payload);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  #call<T>(listener: Listener<T>, payload: T): void {
    try {
      listener(payload);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  #remove(event: keyof Events, listener: Listener<never>): void {
    const listeners = this.#listeners;
    const current = listeners?.get(event);
    if (!listeners || current === undefined) return;
    if (current === listener) {
      listeners.delete(event);
      // Short-lived subscriptions (a connect waiting for its first event) leave no table behind.
      if (listeners.size === 0) this.#listeners = undefined;
      return;
    }
    if (typeof current === "function") return;
    const index = current.lastIndexOf(listener);
    if (index < 0) return;
    const rest = current.filter((_, i) => i !== index);
    listeners.set(event, rest.length === 1 ? (rest[0] as Listener<never>) : rest);
  }
}

function listenersIn(value: Listener<never> | readonly Listener<never>[] | undefined): number {
  return value === undefined ? 0 : typeof value === "function" ? 1 : value.length;
}
