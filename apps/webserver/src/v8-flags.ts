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
 * What the launcher line and `start -d` add to the server's environment: glibc's allocator with
 * a fixed threshold of 128 KiB for serving a block from its own mapping. By default glibc raises
 * that threshold (and the one for giving memory back) each time such a block is freed, after which
 * blocks of that size come from its heaps and their pages stay with the process: over a long run
 * of reconnects the server's RSS climbed 1–1.5 MiB in steps and kept them. Fixed, it stays level.
 * Other C libraries ignore the variable. A value already in the environment of `start -d` is kept.
 */
export const launchEnv: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };
