import type { EndpointStatus } from "@xiaozhi-connect/core";
import { z } from "zod";

// What instances tell each other on the events channel. Anything on it is checked before use:
// another version of this package, or anything else publishing there, cannot break an instance.
const id = z.string().min(1).max(200);

/** An endpoint status as another instance published it: the fields the view relies on, checked. */
const endpointStatus = z.looseObject({
  id,
  url: z.string(),
  state: z.string(),
  connected: z.boolean(),
  initialized: z.boolean(),
  reconnectAttempts: z.number(),
  healthScore: z.number(),
  weight: z.number(),
  inflight: z.number(),
  republishing: z.boolean().optional(),
});

const message = z.discriminatedUnion("t", [
  /** The endpoint list changed (published by the list scripts). */
  z.object({ t: z.literal("list"), epoch: z.string(), v: z.number().int() }),
  /**
   * These leases were let go: whoever should take them can, now. An instance that stops says who
   * it hands each to (`to`: instance → ids), and that one takes them at once.
   */
  z.object({
    t: z.literal("released"),
    by: id,
    ids: z.array(id),
    to: z.record(id, z.array(id)).optional(),
  }),
  z.object({ t: z.literal("joined"), by: id }),
  /** An instance is stopping: it hands its endpoints over a batch at a time, then leaves. */
  z.object({ t: z.literal("leaving"), by: id }),
  z.object({ t: z.literal("left"), by: id }),
  /** All an instance runs, as versions before `status-change` publish it. */
  z.object({ t: z.literal("status"), by: id, endpoints: z.array(endpointStatus) }),
  /** What changed in what an instance runs (`full`: all of it), as it shows in every view. */
  z.object({
    t: z.literal("status-change"),
    by: id,
    v: z.number().int(),
    full: z.boolean().optional(),
    endpoints: z.array(endpointStatus),
    gone: z.array(id).optional(),
  }),
  /** Asks the holder of an endpoint to drop and reopen its link. */
  z.object({ t: z.literal("reconnect"), by: id, id }),
]);

/** A message between instances. */
export type ClusterMessage =
  | { readonly t: "list"; readonly epoch: string; readonly v: number }
  | {
      readonly t: "released";
      readonly by: string;
      readonly ids: readonly string[];
      readonly to?: Readonly<Record<string, readonly string[]>>;
    }
  | { readonly t: "joined" | "leaving" | "left"; readonly by: string }
  | { readonly t: "status"; readonly by: string; readonly endpoints: readonly EndpointStatus[] }
  | StatusChangeMessage
  | { readonly t: "reconnect"; readonly by: string; readonly id: string };

/**
 * What changed in what an instance runs: the endpoints whose status changed and those it no longer
 * runs; with `full`, everything it runs, replacing what was known.
 */
export interface StatusChangeMessage {
  readonly t: "status-change";
  readonly by: string;
  /** Counts the sender's changes (announced in its heartbeat): a gap means one was missed. */
  readonly v: number;
  readonly full?: boolean;
  readonly endpoints: readonly EndpointStatus[];
  readonly gone?: readonly string[];
}

/** An endpoint's status as stored by another instance, or undefined when it is not one. */
export function parseEndpointStatus(text: string): EndpointStatus | undefined {
  try {
    const parsed = endpointStatus.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as EndpointStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** The message in `text`, or undefined when it is not JSON or not a message this version knows. */
export function parseMessage(text: string): ClusterMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = message.safeParse(value);
  return parsed.success ? (parsed.data as ClusterMessage) : undefined;
}
