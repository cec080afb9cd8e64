import { XiaozhiError } from "./errors.js";
import { endpointId, fingerprint, maskEndpoint, normalizeEndpointUrl } from "./mask.js";

/**
 * An endpoint as configured: a URL (or, for things that have none, an id), optionally with a
 * weight and opaque data for the connection factory.
 */
export interface EndpointDescriptor {
  /** The endpoint URL, e.g. `wss://api.xiaozhi.me/mcp/?token=…`. Secret: never logged. */
  readonly url?: string;
  /** The stable key of the endpoint; default `endpointId(url)`. Required when there is no URL. */
  readonly id?: string;
  /** What status and logs show instead of the masked URL; default the masked URL, else the id. */
  readonly label?: string;
  /**
   * A human name for what the endpoint leads to (an agent's name), shown beside the masked URL in
   * status, events and logs. Changing it never reconnects.
   */
  readonly name?: string;
  /** Relative share for weighted strategies; default 1. */
  readonly weight?: number;
  /**
   * Opaque data the manager hands to the connection factory with the endpoint (a tool filter, a
   * replica's config). The manager never reads it; when it changes (compared as JSON) the
   * endpoint's connection is replaced.
   */
  readonly data?: unknown;
}

/** Half of a UTF-16 pair without the other half: not text, and JSON cannot carry it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What callers may pass wherever an endpoint is expected: a URL or a descriptor. */
export type EndpointInput = string | EndpointDescriptor;

/**
 * A validated endpoint with its stable id and masked form. Printed (`JSON.stringify`, `util.inspect`,
 * `console.log`), alone or inside a connection that holds it, it shows `masked` where the URL would
 * be; reading `url` gives the real URL, for the code that dials it.
 */
export interface ResolvedEndpoint {
  /** Stable key; safe to show. */
  readonly id: string;
  /** The normalised URL; secret. Absent for endpoints known only by id. */
  readonly url?: string;
  /** The URL with every secret masked, or the label; safe to show. */
  readonly masked: string;
  /** The endpoint's human name, when it has one; safe to show. */
  readonly name?: string;
  readonly weight: number;
  readonly data?: unknown;
}

/** The endpoint as printed: its fields with the masked URL in place of the real one. */
function shown(endpoint: ResolvedEndpoint): Record<string, unknown> {
  return endpoint.url === undefined ? { ...endpoint } : { ...endpoint, url: endpoint.masked };
}

/**
 * What every resolved endpoint inherits, so its own fields stay plain data (spread, compared and
 * cloned as before): how it prints. Node's `util.inspect` (and so `console.log` and loggers that
 * format objects) calls the method under `Symbol.for("nodejs.util.inspect.custom")`; no Node import.
 */
const printedMasked: object = Object.freeze({
  toJSON(this: ResolvedEndpoint) {
    return shown(this);
  },
  [Symbol.for("nodejs.util.inspect.custom")](this: ResolvedEndpoint) {
    return shown(this);
  },
});

/** Validates an endpoint input and derives its id and masked form. Throws `INVALID_ENDPOINT`. */
export function resolveEndpoint(input: EndpointInput): ResolvedEndpoint {
  const descriptor: EndpointDescriptor = typeof input === "string" ? { url: input } : (input ?? {});
  const given = typeof descriptor.url === "string" ? descriptor.url.trim() : undefined;
  let url: string | undefined;
  if (given !== undefined || descriptor.id === undefined) {
    if (!given) throw new XiaozhiError("INVALID_ENDPOINT", "endpoint URL is empty");
    try {
      url = normalizeEndpointUrl(given);
    } catch {
      throw new XiaozhiError(
        "INVALID_ENDPOINT",
        `endpoint is not a valid URL (fingerprint ${fingerprint(given)})`,
      );
    }
  }
  // Well-formed: an id travels as JSON (to Redis in cluster mode), where a lone surrogate is not text.
  if (
    descriptor.id !== undefined &&
    (typeof descriptor.id !== "string" || descriptor.id.length === 0 || loneSurrogate.test(descriptor.id))
  ) {
    throw new XiaozhiError("INVALID_ENDPOINT", "endpoint id must be a non-empty string of well-formed text");
  }
  const weight = descriptor.weight ?? 1;
  if (!(Number.isFinite(weight) && weight > 0)) {
    throw new XiaozhiError("INVALID_ENDPOINT", `endpoint weight must be a positive number, got ${weight}`);
  }
  if (descriptor.name !== undefined && typeof descriptor.name !== "string") {
    throw new XiaozhiError("INVALID_ENDPOINT", "endpoint name must be a string");
  }
  const id = descriptor.id ?? endpointId(url as string);
  const name = descriptor.name?.trim().slice(0, 120) || undefined;
  return Object.freeze(
    Object.assign(Object.create(printedMasked) as ResolvedEndpoint, {
      id,
      ...(url === undefined ? {} : { url }),
      masked: descriptor.label ?? (url === undefined ? id : maskEndpoint(url)),
      ...(name === undefined ? {} : { name }),
      weight,
      ...(descriptor.data === undefined ? {} : { data: descriptor.data }),
    }),
  );
}

/** True when two endpoints with one id differ in what their connection depends on (URL or data). */
export function connectionShapeChanged(a: ResolvedEndpoint, b: ResolvedEndpoint): boolean {
  return a.url !== b.url || JSON.stringify(a.data) !== JSON.stringify(b.data);
}
