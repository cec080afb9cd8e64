/** An endpoint as `/api/endpoints` and the event stream show it in cluster mode. */
export interface EndpointRow {
  readonly id: string;
  readonly url: string;
  readonly state: string;
  readonly connected: boolean;
  readonly instance: string | null;
}

/** The cluster part of `/api/status` and the `cluster` event. */
export interface ClusterRow {
  readonly reachable: boolean;
  readonly version: number;
  readonly instances: readonly { readonly id: string; readonly endpoints: number }[];
}

/** What one server's event stream has said so far: its endpoints and its view of the cluster. */
export interface LiveView {
  readonly endpoints: ReadonlyMap<string, EndpointRow>;
  readonly cluster: ClusterRow | null;
}

/** A server's event stream, followed while a test needs it (as a dashboard left open is). */
export interface FollowedView {
  /** What the stream has said so far. */
  readonly view: LiveView;
  /**
   * Resolves once `predicate` holds for what the stream has said, checked at every event, never by
   * polling. Rejects with `what` after `timeoutMs`, followed by what `explain` makes of the view.
   */
  until(
    predicate: (view: LiveView) => boolean,
    timeoutMs: number,
    what: string,
    explain?: (view: LiveView) => string,
  ): Promise<void>;
  close(): void;
}

/** Follows a server's `/api/events` (the snapshot, then each change, as the dashboard does). */
export function followView(baseUrl: string): FollowedView {
  const controller = new AbortController();
  const endpoints = new Map<string, EndpointRow>();
  const view = { endpoints, cluster: null as ClusterRow | null };
  const waiters = new Set<() => void>();
  let seenSnapshot = false;
  let ended: Error | undefined;
  const wake = () => {
    for (const waiter of waiters) waiter();
  };
  const apply = (event: string, payload: Record<string, unknown>) => {
    if (event === "snapshot") {
      seenSnapshot = true;
      for (const e of payload.endpoints as EndpointRow[]) endpoints.set(e.id, e);
      view.cluster = (payload.status as { cluster?: ClusterRow }).cluster ?? null;
    } else if (event === "endpoint") endpoints.set(payload.id as string, payload as unknown as EndpointRow);
    else if (event === "removed") endpoints.delete(payload.id as string);
    else if (event === "cluster") view.cluster = payload as unknown as ClusterRow;
  };
  const read = async () => {
    const response = await fetch(new URL("/api/events", baseUrl), { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the event stream ended");
      buffer += value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) apply(event, JSON.parse(data));
      }
      if (seenSnapshot) wake();
    }
  };
  read().catch((error: Error) => {
    ended = controller.signal.aborted ? new Error("the stream was closed") : error;
    wake();
  });
  return {
    view,
    until(predicate, timeoutMs, what, explain) {
      return new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (seenSnapshot && predicate(view)) done();
          else if (ended) done(new Error(`${what}: ${ended.message}`));
        };
        const timer = setTimeout(() => {
          const shown = explain ? `; the stream shows ${explain(view)}` : "";
          done(new Error(`${what}: not within ${timeoutMs} ms${shown}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => controller.abort(),
  };
}

/**
 * Follows a server's event stream until `predicate` holds for what it has said; rejects with `what`
 * after `timeoutMs`, followed by what `explain` makes of the last view when given. The stream is
 * closed either way.
 */
export async function untilView(
  baseUrl: string,
  predicate: (view: LiveView) => boolean,
  timeoutMs: number,
  what: string,
  explain?: (view: LiveView) => string,
): Promise<void> {
  const followed = followView(baseUrl);
  try {
    await followed.until(predicate, timeoutMs, what, explain);
  } finally {
    followed.close();
  }
}
