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
  /** These leases were let go: whoever should take them can, now. */
  z.object({ t: z.literal("released"), by: id, ids: z.array(id) }),
  z.object({ t: z.literal("joined"), by: id }),
  z.object({ t: z.literal("left"), by: id }),
  /** What an instance runs, as it shows in every instance's view. */
  z.object({ t: z.literal("status"), by: id, v: z.number().optional(), endpoints: z.array(endpointStatus) }),
  /** Asks the holder of an endpoint to drop and reopen its link. */
  z.object({ t: z.literal("reconnect"), by: id, id }),
]);

/** A message between instances. */
export type ClusterMessage =
  | { readonly t: "list"; readonly epoch: string; readonly v: number }
  | { readonly t: "released"; readonly by: string; readonly ids: readonly string[] }
  | { readonly t: "joined" | "left"; readonly by: string }
  | {
      readonly t: "status";
      readonly by: string;
      /** Counts the sender's publishes (announced in its heartbeat). */
      readonly v?: number;
      readonly endpoints: readonly EndpointStatus[];
    }
  | { readonly t: "reconnect"; readonly by: string; readonly id: string };

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
