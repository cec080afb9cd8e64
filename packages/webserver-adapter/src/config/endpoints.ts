import {
  type EndpointDescriptor,
  endpointId,
  maskEndpoint,
  normalizeEndpointUrl,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { resolveEnvString } from "./env-refs.js";
import type { XiaozhiConfig } from "./schema.js";

/** An endpoint left out of the config, with why; `endpoint` is masked. */
export interface SkippedEndpoint {
  readonly endpoint: string;
  readonly reason: string;
}

/**
 * Splits `mcpEndpoint` (string, list of strings or `{url,…}` objects) into the endpoints to
 * connect and the ones to skip: empty entries, placeholders such as `<请填写...>`, non-ws(s)
 * URLs and duplicates. Skipped ones are described masked.
 */
export function selectEndpoints(mcpEndpoint: XiaozhiConfig["mcpEndpoint"]): {
  endpoints: EndpointDescriptor[];
  skipped: SkippedEndpoint[];
} {
  const list = mcpEndpoint === undefined ? [] : Array.isArray(mcpEndpoint) ? mcpEndpoint : [mcpEndpoint];
  const endpoints: EndpointDescriptor[] = [];
  const skipped: SkippedEndpoint[] = [];
  const seen = new Set<string>();
  for (const entry of list) {
    const descriptor = typeof entry === "string" ? { url: entry } : entry;
    const url = descriptor.url.trim();
    const reason = whyInvalid(url) ?? (seen.has(endpointId(url)) ? "listed twice" : undefined);
    if (reason) {
      skipped.push({ endpoint: describe(url), reason });
      continue;
    }
    seen.add(endpointId(url));
    // The tool filter and the result bound travel as the endpoint's opaque data, for the
    // filtering connection factory and the transport.
    const own = typeof entry === "string" ? undefined : entry.maxResultBytes;
    const filter =
      descriptor.services === undefined && descriptor.tools === undefined && own === undefined
        ? undefined
        : {
            ...(descriptor.services === undefined ? {} : { services: descriptor.services }),
            ...(descriptor.tools === undefined ? {} : { tools: descriptor.tools }),
            ...(own === undefined ? {} : { maxResultBytes: own }),
          };
    endpoints.push({
      url,
      name: (typeof entry === "string" ? undefined : entry.name?.trim()) || agentNameOf(url),
      ...(descriptor.weight === undefined ? {} : { weight: descriptor.weight }),
      ...(filter === undefined ? {} : { data: filter }),
    });
  }
  return { endpoints, skipped };
}

/** The longest endpoint URL accepted, in characters. */
export const maxEndpointUrlLength = 2048;

/** Why a string cannot be an endpoint URL, or undefined when it can. */
export function whyInvalid(url: string): string | undefined {
  if (!url) return "empty";
  if (url.length > maxEndpointUrlLength) return `longer than ${maxEndpointUrlLength} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(url)) return "not allowed to contain control characters";
  if (/<[^>]*>|请填写/.test(url)) return "a placeholder, not a real endpoint";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") return "not a ws:// or wss:// URL";
  return undefined;
}

/**
 * What to call the agent behind an endpoint URL that has no `name`: `agent <agentId>` when the
 * token is a JWT whose payload carries `agentId` (Xiaozhi endpoint tokens do; the token is read,
 * never verified, and never shown), else the host.
 */
export function agentNameOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "";
  }
  const token = parsed.searchParams.get("token") ?? "";
  const payload = token.split(".")[1];
  if (token.split(".").length === 3 && payload) {
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
      const agentId = (claims as { agentId?: unknown } | null)?.agentId;
      if ((typeof agentId === "number" && Number.isFinite(agentId)) || typeof agentId === "string") {
        const id = String(agentId).slice(0, 64);
        if (/^[\w.-]+$/.test(id)) return `agent ${id}`;
      }
    } catch {
      // Not a JWT after all: fall back to the host.
    }
  }
  return parsed.hostname;
}

function describe(url: string): string {
  return url ? maskEndpoint(url) : "(empty)";
}

/** An endpoint to add, checked and normalised, with its id. */
export interface EndpointToAdd {
  readonly url: string;
  readonly id: string;
  readonly name?: string;
}

/**
 * Checks an endpoint URL for adding: throws `INVALID_ENDPOINT` with why it cannot be one, else
 * returns its normalised form and id.
 */
export function endpointToAdd(url: string, name?: string): EndpointToAdd {
  const trimmed = typeof url === "string" ? url.trim() : "";
  const reason = whyInvalid(trimmed);
  if (reason) throw new XiaozhiError("INVALID_ENDPOINT", `endpoint URL is ${reason}`);
  const normalized = normalizeEndpointUrl(trimmed);
  const label = typeof name === "string" ? name.trim() : "";
  if (label.length > 120)
    throw new XiaozhiError("INVALID_ENDPOINT", "endpoint name is longer than 120 characters");
  return { url: normalized, id: endpointId(normalized), ...(label ? { name: label } : {}) };
}

/**
 * Appends an endpoint (as `endpointToAdd` gave it) to `mcpEndpoint` in a raw config. Throws
 * `DUPLICATE_ENDPOINT` when an entry already has its id, however that entry is spelled.
 */
export function addEndpointEntry(
  raw: Record<string, unknown>,
  endpoint: { url: string; id: string; name?: string },
): void {
  const list = endpointEntries(raw.mcpEndpoint);
  if (list.some((entry) => entryIdOf(entry) === endpoint.id)) {
    throw new XiaozhiError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.id} already exists`);
  }
  raw.mcpEndpoint = [...list, endpoint.name ? { url: endpoint.url, name: endpoint.name } : endpoint.url];
}

/** Removes the entries with this id from `mcpEndpoint` in a raw config; false when none had it. */
export function removeEndpointEntry(raw: Record<string, unknown>, id: string): boolean {
  const list = endpointEntries(raw.mcpEndpoint);
  const kept = list.filter((entry) => entryIdOf(entry) !== id);
  raw.mcpEndpoint = kept;
  return kept.length < list.length;
}

/** `mcpEndpoint` as a list, whatever form it has (absent, one string, a list). */
export function endpointEntries(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  return Array.isArray(value) ? [...value] : [value];
}

/** A URL has a scheme, as the URL parser reads it; an id (`ep-…`) has none. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls the URL parser drops.
const hasScheme = /^[\u0000-\u0020]*[a-z][a-z\d+.\t\n\r-]*:/i;

/**
 * The id of an endpoint named either way the API takes it: an id as it is, a URL as the id of that
 * URL. What is done with it (the file's edit, the audit, an error) then never holds a token.
 */
export function endpointIdOf(ref: string): string {
  return hasScheme.test(ref) ? endpointId(ref) : ref;
}

/** The id of an `mcpEndpoint` entry (a URL or `{url,…}`), undefined for one without a URL. */
export function entryIdOf(entry: unknown): string | undefined {
  const url = typeof entry === "string" ? entry : (entry as { url?: unknown } | null)?.url;
  // An entry kept as `${NAME}` in the file is the endpoint its variable names.
  const resolved = typeof url === "string" ? resolveEnvString(url) : undefined;
  return resolved === undefined ? undefined : endpointId(resolved);
}
