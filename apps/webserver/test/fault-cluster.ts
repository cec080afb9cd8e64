import { endpointId } from "@xiaozhi-connect/core";
import type { TokenSocketWatch } from "@xiaozhi-connect/transport-ws/testing";
import { type EndpointRow, untilView } from "./live-view.js";
import type { RunningServer } from "./run-server.js";
import type { TcpProxy } from "./tcp-proxy.js";

/** One instance of a fault run: its config, its path to Redis, and the process running now. */
export interface Node {
  readonly id: string;
  readonly config: string;
  readonly proxy: TcpProxy;
  server: RunningServer | undefined;
  /** A fault holds it (killed, stopped, paused, cut off, slowed). */
  faulted: boolean;
  /** Ended on purpose: its exit is not a crash. */
  ending: boolean;
}

/** A seeded random source (mulberry32): the same seed makes the same faults in the same order. */
export function randomSource(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    between: (low: number, high: number) => low + (high - low) * next(),
  };
}

/** The tokens an instance's view lists. */
export async function listedTokens(
  node: Node,
  tokens: readonly string[],
  url: (token: string) => string,
): Promise<Set<string>> {
  const byId = new Map(tokens.map((t) => [endpointId(url(t)), t]));
  const response = await fetch(new URL("/api/endpoints", node.server?.url));
  const { endpoints } = (await response.json()) as { endpoints: EndpointRow[] };
  return new Set(endpoints.map((e) => byId.get(e.id) ?? e.id));
}

/**
 * Resolves with the tokens listed once every node's view shows every endpoint connected and held
 * by a running node, the views are the same, and the cloud sees each listed token once and no
 * other; rejects after `timeoutMs`. Waits on the event streams and the socket counts.
 */
export async function converged(
  nodes: readonly Node[],
  tokens: readonly string[],
  url: (token: string) => string,
  watch: TokenSocketWatch,
  timeoutMs: number,
): Promise<Set<string>> {
  const ids = nodes.map((n) => n.id);
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  let why = "";
  // Bounded by the deadline: each round waits on events, not on time.
  const isHeld = (e: EndpointRow) => e.connected && e.instance !== null && ids.includes(e.instance);
  for (let round = 0; round < 100 && Date.now() < deadline; round++) {
    for (const node of nodes) {
      await untilView(
        node.server?.url ?? "",
        ({ endpoints }) => [...endpoints.values()].every(isHeld),
        left(),
        `${node.id}'s view of every endpoint held`,
        ({ endpoints }) =>
          JSON.stringify(
            [...endpoints.values()].filter((e) => !isHeld(e)).map((e) => [e.id, e.state, e.instance]),
          ),
      ).catch(async (error: Error) => {
        const response = await fetch(new URL("/api/endpoints", node.server?.url));
        const { endpoints } = (await response.json()) as { endpoints: EndpointRow[] };
        const off = endpoints.filter((e) => !isHeld(e)).map((e) => [e.id, e.state, e.instance]);
        throw new Error(`${error.message}; the API shows ${JSON.stringify(off)}`);
      });
    }
    const views = await Promise.all(
      nodes.map(async (node) => {
        const response = await fetch(new URL("/api/endpoints", node.server?.url));
        const { endpoints } = (await response.json()) as { endpoints: EndpointRow[] };
        return JSON.stringify(endpoints.map((e) => [e.id, e.instance]).sort());
      }),
    );
    const listed = await listedTokens(nodes[0] as Node, tokens, url);
    const sockets = () => tokens.every((t) => watch.count(t) === (listed.has(t) ? 1 : 0));
    const held = await watch.until(sockets, Math.min(5000, left()), "sockets").then(
      () => true,
      () => false,
    );
    if (new Set(views).size === 1 && held) return listed;
    why =
      new Set(views).size === 1 ? "sockets do not match the list" : `the views differ: ${views.join(" / ")}`;
  }
  throw new Error(`after the faults: ${why} within ${timeoutMs} ms`);
}
