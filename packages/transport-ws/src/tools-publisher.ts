import { createHash } from "node:crypto";
import type { RepublishCause, ToolDescriptor, ToolSource } from "@xiaozhi-connect/core";

/**
 * How an endpoint's agent learns that the tools it may see changed. `notify`: send
 * `notifications/tools/list_changed` only (clients that re-list, such as editors). `reconnect`:
 * also close and reopen the link at once, since xiaozhi.me and self-hosted servers read the list
 * only at connect. `auto`: notify, and reconnect when the agent has not re-listed within
 * `relistGrace`; an agent seen not to re-list is reconnected straight away from then on.
 */
export type ToolsChangedMode = "auto" | "notify" | "reconnect";

/** The settings a publisher reads at each step, so a reload reaches it at once. Times in ms. */
export interface PublishSettings {
  readonly toolsChanged: ToolsChangedMode;
  /** `auto`: how long to wait for the agent to re-list after `list_changed`. */
  readonly relistGrace: number;
  /** Republishes of one endpoint: up to `republishBurst` at once, then one per this period. */
  readonly republishInterval: number;
  /** A republish waits at most this long for the link's running calls to finish. */
  readonly drainTimeout: number;
  /** A `tools/list` waits at most this long for tools still on their way (`ToolSource.ready`). */
  readonly toolsWait: number;
}

/** What a publisher needs of the link it keeps current. */
export interface PublishedLink {
  readonly tools: ToolSource;
  /** Fingerprint of the list the agent last received on this link; undefined until it lists. */
  readonly listed: string | undefined;
  /** The agent's requests not answered yet (running calls among them). */
  readonly incoming: number;
  readonly open: boolean;
  /** Sends `notifications/tools/list_changed` on the link. */
  sendListChanged(): void;
  /** Closes the link (1000) so that the endpoint is reopened and its agent lists again. */
  republish(cause: RepublishCause): void;
}

/** Republishes one endpoint may make at once before the interval applies. */
export const republishBurst = 5;

type Phase = "idle" | "relist" | "slot" | "drain";

interface Work {
  phase: Phase;
  cause: RepublishCause;
  timer: ReturnType<typeof setTimeout> | undefined;
  checking: boolean;
  again: boolean;
}

/**
 * Keeps one endpoint's agent holding the tools it may see (one publisher per endpoint, across
 * its links). A change is compared with what the agent last received, so an endpoint whose own
 * view did not change hears nothing. Otherwise the agent is told with `list_changed`; in `auto`
 * mode an agent that does not re-list within `relistGrace` is remembered as one that lists only at
 * connect (and is not told again), and the link is closed to be reopened: no sooner than the
 * endpoint's republish budget allows (the latest list still goes out when it does), after the
 * link's running calls finish (up to `drainTimeout`), and only if the list is still stale then.
 */
export class ToolsPublisher {
  #link: PublishedLink | undefined;
  /** Whether this endpoint's agent re-lists after `list_changed`; undefined until seen. */
  #relists: boolean | undefined;
  /** A check or a republish under way; none while idle, so an idle endpoint keeps no state. */
  #work: Work | undefined;
  /** The republish budget once one was spent; a full burst until then. */
  #budget: { tokens: number; at: number } | undefined;

  constructor(
    private readonly settings: PublishSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the agent was seen re-listing after `list_changed` (undefined until it was tested). */
  get relists(): boolean | undefined {
    return this.#relists;
  }

  /** A link opened: the agent lists at connect, so nothing is pending for it. */
  attach(link: PublishedLink): void {
    this.#stop();
    this.#link = link;
  }

  /** The link closed: whatever was planned for it is dropped. */
  detach(link: PublishedLink): void {
    if (this.#link !== link) return;
    this.#stop();
    this.#link = undefined;
  }

  /** The tools the link's source offers may have changed. */
  changed(link: PublishedLink): void {
    if (link === this.#link) this.#check();
  }

  /** The agent listed tools on the link. */
  listed(link: PublishedLink): void {
    if (link !== this.#link) return;
    if (this.#phase === "relist") {
      this.#relists = true;
      this.#stop();
    }
    // What it got may already be out of date again.
    this.#check();
  }

  /** The link's last running request was answered. */
  idle(link: PublishedLink): void {
    if (link === this.#link && this.#phase === "drain") void this.#finish();
  }

  /** A `reconnect`-policy republish is planned and not yet done. */
  #forcing(): boolean {
    return this.#work?.cause === "forced" && (this.#phase === "slot" || this.#phase === "drain");
  }

  get #phase(): Phase {
    return this.#work?.phase ?? "idle";
  }

  #busy(): Work {
    this.#work ??= { phase: "idle", cause: "no-relist", timer: undefined, checking: false, again: false };
    return this.#work;
  }

  /** Drops the work record once nothing is under way. */
  #release(): void {
    const work = this.#work;
    if (work && work.phase === "idle" && !work.checking && work.timer === undefined) this.#work = undefined;
  }

  /** Compares the agent's list with the current one, one check at a time. */
  #check(): void {
    const work = this.#busy();
    if (work.checking) {
      work.again = true;
      return;
    }
    work.checking = true;
    void this.#compare()
      .then((stale) => {
        if (stale !== undefined) this.#react(stale);
      })
      .finally(() => {
        work.checking = false;
        if (work.again) {
          work.again = false;
          this.#check();
        } else this.#release();
      });
  }

  /** True when the agent's list is out of date; undefined when there is no listed link to judge. */
  async #compare(): Promise<boolean | undefined> {
    const link = this.#link;
    if (!link?.open || link.listed === undefined) return undefined;
    const current = await currentFingerprint(link.tools, this.settings.toolsWait);
    if (link !== this.#link || !link.open || link.listed === undefined) return undefined;
    return current !== link.listed;
  }

  #react(stale: boolean): void {
    const link = this.#link;
    if (!link) return;
    if (!stale) {
      // `reconnect` reopens after every change, even one the agent already re-listed: that
      // policy is for agents whose re-list cannot be trusted.
      if (this.#forcing()) return;
      // Back to what the agent holds (a service flapped, a switch went back): nothing to publish.
      this.#stop();
      return;
    }
    // A republish already planned checks the list once more before it closes anything.
    if (this.#phase === "slot" || this.#phase === "drain") return;
    const { toolsChanged } = this.settings;
    // An agent known to list only at connect is not told: it would ignore the notice, and a
    // self-hosted relay logs an error for every one it cannot pass on.
    if (toolsChanged === "auto" && this.#relists === false) {
      this.#plan("remembered");
      return;
    }
    link.sendListChanged();
    if (toolsChanged === "notify") return;
    if (toolsChanged === "reconnect") this.#plan("forced");
    else if (this.#phase !== "relist") {
      this.#busy().phase = "relist";
      this.#arm(this.settings.relistGrace, () => {
        this.#relists = false;
        this.#plan("no-relist");
      });
    }
  }

  /** Waits for a republish slot, then for the running calls, then republishes if still stale. */
  #plan(cause: RepublishCause): void {
    const work = this.#busy();
    work.cause = cause;
    work.phase = "slot";
    this.#arm(this.#untilToken(), () => {
      const link = this.#link;
      if (!link) return;
      work.phase = "drain";
      if (link.incoming === 0) void this.#finish();
      else this.#arm(this.settings.drainTimeout, () => void this.#finish());
    });
  }

  async #finish(): Promise<void> {
    const link = this.#link;
    const work = this.#work;
    if (!link || work?.phase !== "drain") return;
    this.#clearTimer();
    const stale = await this.#compare();
    if (link !== this.#link || work !== this.#work || work.phase !== "drain") return;
    work.phase = "idle";
    this.#release();
    if (stale === undefined || (!stale && work.cause !== "forced")) return;
    this.#take();
    link.republish(work.cause);
  }

  #untilToken(): number {
    const available = this.#available();
    return available >= 1 ? 0 : Math.ceil((1 - available) * this.settings.republishInterval);
  }

  #available(): number {
    const budget = this.#budget;
    if (!budget) return republishBurst;
    const refilled = (this.now() - budget.at) / this.settings.republishInterval;
    return Math.min(republishBurst, budget.tokens + refilled);
  }

  #take(): void {
    this.#budget = { tokens: this.#available() - 1, at: this.now() };
  }

  #arm(ms: number, run: () => void): void {
    this.#clearTimer();
    const work = this.#busy();
    work.timer = setTimeout(() => {
      work.timer = undefined;
      run();
      this.#release();
    }, ms);
  }

  #stop(): void {
    this.#clearTimer();
    if (this.#work) this.#work.phase = "idle";
    this.#release();
  }

  #clearTimer(): void {
    const work = this.#work;
    if (work?.timer === undefined) return;
    clearTimeout(work.timer);
    work.timer = undefined;
  }
}

const fingerprints = new WeakMap<readonly ToolDescriptor[], string>();

/**
 * A short digest of a tool list as an agent receives it (MCP `Tool` fields only), cached per list
 * array, so a thousand links holding one list cost one digest. The order does not count: a service
 * that restarted lists its tools after the others', and an agent holding the same tools in another
 * order has nothing new to learn (a republish would reconnect it, cutting its running calls).
 */
export function toolListFingerprint(list: readonly ToolDescriptor[]): string {
  let digest = fingerprints.get(list);
  if (digest === undefined) {
    const tools = list.map(wireTool).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    digest = intern(createHash("sha1").update(JSON.stringify(tools)).digest("base64url"));
    fingerprints.set(list, digest);
  }
  return digest;
}

// Links keep the digest of what their agent holds; sources that build a new array per listing
// would otherwise give each idle link a copy of the same string.
const digests = new Map<string, string>();

function intern(digest: string): string {
  const known = digests.get(digest);
  if (known !== undefined) return known;
  if (digests.size >= 256) digests.delete(digests.keys().next().value as string);
  digests.set(digest, digest);
  return digest;
}

/** The source's list once tools on their way have arrived, waiting at most `waitMs` for them. */
export async function settledTools(source: ToolSource, waitMs: number): Promise<readonly ToolDescriptor[]> {
  const pending = source.ready?.();
  if (pending) await within(pending, waitMs);
  return source.listTools();
}

async function currentFingerprint(source: ToolSource, waitMs: number): Promise<string> {
  return toolListFingerprint(await settledTools(source, waitMs));
}

function within(promise: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Only MCP `Tool` fields go on the wire; a ToolSource may carry more. */
export function wireTool(tool: ToolDescriptor): ToolDescriptor {
  const { name, title, description, inputSchema, outputSchema, annotations } = tool;
  return {
    name,
    inputSchema,
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
    ...(outputSchema === undefined ? {} : { outputSchema }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}
