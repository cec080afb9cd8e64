import { connect } from "node:net";
import type { ResolvedEndpoint } from "@xiaozhi-connect/core";
import { XiaozhiError } from "@xiaozhi-connect/core";

/**
 * Whether an endpoint's host accepts a TCP connection on the endpoint's port (443 for `wss:`, 80
 * for `ws:` unless the URL says otherwise). Opens nothing above TCP and closes at once: a host
 * that is down costs one refused SYN per probe.
 */
export function tcpProbe(endpoint: ResolvedEndpoint, signal: AbortSignal): Promise<void> {
  const url = endpoint.url === undefined ? undefined : new URL(endpoint.url);
  if (url === undefined) return Promise.reject(new XiaozhiError("INVALID_ENDPOINT", "endpoint has no URL"));
  const port = Number(url.port) || (url.protocol === "wss:" || url.protocol === "https:" ? 443 : 80);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = connect({ host, port });
    const done = (error?: Error) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => done(signal.reason instanceof Error ? signal.reason : new Error("probe aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => done());
    socket.once("error", (error) => done(error));
  });
}
