import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import type { Holdings } from "./holdings.js";
import type { ListKnowledge } from "./list-knowledge.js";
import type { ClusterMessage } from "./messages.js";
import type { Peers } from "./peers.js";

/** What a message from another instance acts on. */
export interface MessageTargets {
  readonly list: ListKnowledge;
  readonly holdings: Holdings;
  readonly peers: Peers;
  readonly host: () => ClusterHost | undefined;
  /** Monotonic ms. */
  readonly now: () => number;
  /** Runs a tick now (or right after the one under way). */
  readonly kick: () => void;
  /** What the view shows changed. */
  readonly view: () => void;
}

/** Acts on a message from another instance: most make the next tick come at once. */
export function onMessage(message: ClusterMessage, to: MessageTargets): void {
  switch (message.t) {
    case "list":
      if (message.epoch !== to.list.epoch || message.v !== to.list.version) to.kick();
      break;
    case "released":
      to.holdings.released(message, to.now());
      to.kick();
      break;
    case "left":
    case "leaving":
      if (message.t === "left") to.peers.left(message.by);
      else to.peers.leaving(message.by);
      to.view();
      to.kick();
      break;
    case "joined":
      to.kick();
      break;
    case "reconnect":
      if (to.holdings.held.has(message.id)) to.host()?.reconnect(message.id);
      break;
    case "status":
    case "status-change":
      to.peers.heard(message);
      to.view();
      break;
  }
}
