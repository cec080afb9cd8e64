import { ConnectError } from "./errors.js";
import { endpointId, fingerprint, maskEndpoint, normalizeEndpointUrl } from "./mask.js";

/** An endpoint as configured: a URL, optionally with a weight and its own subset of tools. */
export interface EndpointDescriptor {
  /** The endpoint URL, e.g. `wss://api.xiaozhi.me/mcp/?token=…`. Secret: never logged. */
  readonly url: string;
  /** Relative share for weighted strategies; default 1. */
  readonly weight?: number;
  /** When set, only tools of these services are offered on this endpoint. */
  readonly services?: readonly string[];
  /** When set, only these tools (full `<service>__<tool>` names) are offered on this endpoint. */
  readonly tools?: readonly string[];
}

/** What callers may pass wherever an endpoint is expected. */
export type EndpointInput = string | EndpointDescriptor;

/** A validated endpoint with its stable id and masked form. */
export interface ResolvedEndpoint extends EndpointDescriptor {
  /** Stable id derived from the URL (see `endpointId`); safe to show. */
  readonly id: string;
  /** The URL with every secret masked; safe to show. */
  readonly masked: string;
  readonly weight: number;
}

/** Validates an endpoint input and derives its id and masked form. Throws `INVALID_ENDPOINT`. */
export function resolveEndpoint(input: EndpointInput): ResolvedEndpoint {
  const descriptor: EndpointDescriptor = typeof input === "string" ? { url: input } : input;
  const given = typeof descriptor?.url === "string" ? descriptor.url.trim() : "";
  if (!given) throw new ConnectError("INVALID_ENDPOINT", "endpoint URL is empty");
  let url: string;
  try {
    url = normalizeEndpointUrl(given);
  } catch {
    throw new ConnectError(
      "INVALID_ENDPOINT",
      `endpoint is not a valid URL (fingerprint ${fingerprint(given)})`,
    );
  }
  const weight = descriptor.weight ?? 1;
  if (!(Number.isFinite(weight) && weight > 0)) {
    throw new ConnectError("INVALID_ENDPOINT", `endpoint weight must be a positive number, got ${weight}`);
  }
  return Object.freeze({
    ...descriptor,
    url,
    weight,
    id: endpointId(url),
    masked: maskEndpoint(url),
  });
}

/** True when two endpoints with the same URL differ in what the connection itself depends on. */
export function connectionShapeChanged(a: EndpointDescriptor, b: EndpointDescriptor): boolean {
  return !sameList(a.services, b.services) || !sameList(a.tools, b.tools);
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
