/**
 * The V8 flags the server runs with, as the `xiaozhi-connect` launcher line and `pnpm start` pass
 * them: a young generation of at most 4 MiB per semi-space. A provider's garbage is short-lived
 * and small. The default lets the young generation grow to tens of MiB during a connect burst,
 * which is most of what 1,000 endpoints seem to cost in the first seconds after connecting; with
 * 1 MiB the burst's short-lived objects outlive the frequent scavenges, and a start of 10,000
 * endpoints takes a second longer in garbage collection.
 *
 * A module of its own, importing nothing, so that what reads the flags loads nothing else.
 */
export const v8Flags: readonly string[] = ["--max-semi-space-size=4"];

/**
 * What `start -d` adds to the server's environment, and the systemd unit in `docs/systemd` sets:
 * glibc's allocator with a fixed threshold of 128 KiB for serving a block from a mapping of its
 * own. By default glibc raises that threshold each time such a block is freed, and later blocks of
 * that size then come from its heaps, whose pages stay with the process: over 30,000 reconnects the
 * server's RSS climbed 1–2 MiB in steps and kept them. Fixed, it stays level. The launcher line
 * does not set it: npm's shell wrapper of the command (Git Bash on Windows) cannot run a line
 * that assigns a variable. Other C libraries ignore the variable.
 */
export const launchEnv: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };

/** `env` with {@link launchEnv} added where it does not set those variables itself. */
export function withLaunchEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...launchEnv, ...env };
}
