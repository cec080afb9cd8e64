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

/**
 * Follows a server's `/api/events` (the snapshot, then each change, as the dashboard does) until
 * `predicate` holds for what it has said; checked at every event, never by polling. Rejects with
 * `what` after `timeoutMs`, followed by what `explain` makes of the last view when given. The
 * stream is closed either way.
 */
export async function untilView(
  baseUrl: string,
  predicate: (view: LiveView) => boolean,
  timeoutMs: number,
  what: string,
  explain?: (view: LiveView) => string,
): Promise<void> {
  const endpoints = new Map<string, EndpointRow>();
  const view = { endpoints, cluster: null as ClusterRow | null };
  const controller = new AbortController();
  const timer = setTimeout(() => {
    const shown = explain ? `; the stream shows ${explain(view)}` : "";
    controller.abort(new Error(`${what}: not within ${timeoutMs} ms${shown}`));
  }, timeoutMs);
  try {
    const response = await fetch(new URL("/api/events", baseUrl), { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .getReader();
    let buffer = "";
    let seenSnapshot = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${what}: the event stream ended`);
      buffer += value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const payload = JSON.parse(data);
        if (event === "snapshot") {
          seenSnapshot = true;
          for (const e of payload.endpoints as EndpointRow[]) endpoints.set(e.id, e);
          view.cluster = payload.status.cluster ?? null;
        } else if (event === "endpoint") endpoints.set(payload.id, payload);
        else if (event === "removed") endpoints.delete(payload.id);
        else if (event === "cluster") view.cluster = payload;
      }
      if (seenSnapshot && predicate(view)) return;
    }
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
