import type { Logger } from "@xiaozhi-connect/core";
import type { ClusterCoordinator, ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import { afterEach, describe, expect, it } from "vitest";
import { redisCluster } from "../src/redis-cluster.js";
import { failureOf, redisCause } from "../src/redis-errors.js";
import { freePort, redisAvailable, startRedis, type TestRedis } from "./redis-server.js";

// What an operator reads when the cluster's Redis refuses the URL's credentials: the cause, in
// words, once per cause, never the password. A real redis-server with a password, a real client.
const password = "s3cret-Pass.word";
const host: ClusterHost = { statuses: () => [], drop: async () => {}, reconnect: () => {} };

interface Entry {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/** A logger that keeps every entry, and resolves waits as entries come (never by polling). */
function recording() {
  const entries: Entry[] = [];
  const waiters = new Set<() => void>();
  const log =
    (level: string) =>
    (fields: unknown, msg?: unknown): void => {
      const object = typeof fields === "object" && fields !== null ? (fields as Record<string, unknown>) : {};
      entries.push({ level, fields: object, msg: String(typeof fields === "string" ? fields : (msg ?? "")) });
      for (const waiter of waiters) waiter();
    };
  const logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") } as Logger;
  const until = (predicate: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`${what}: not within ${timeoutMs} ms; logged:\n${JSON.stringify(entries, null, 1)}`),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { entries, logger, until };
}

const unreachable = (e: Entry) => e.level === "warn" && e.msg.startsWith("cluster: Redis out of reach");
/** Each failed reconnect of either connection is one debug entry: retries, as they happen. */
const retries = (entries: readonly Entry[]) =>
  entries.filter((e) => e.level === "debug" && e.msg === "redis");

const available = redisAvailable();
let redis: TestRedis | undefined;
let coordinator: ClusterCoordinator | undefined;

afterEach(async () => {
  await coordinator?.stop();
  coordinator = undefined;
  await redis?.stop();
  redis = undefined;
});

async function joined(url: string, log: ReturnType<typeof recording>): Promise<ClusterCoordinator> {
  coordinator = redisCluster(
    { redis: url, instanceId: "auth-test", leaseTtl: 1000, namespace: `auth-${Math.random()}` },
    { logger: log.logger, seed: [], describe: () => [] },
  );
  await coordinator.start(host);
  return coordinator;
}

describe.skipIf(!available)("Redis refusing the cluster.redis URL's credentials", () => {
  it.each([
    [
      "a wrong password",
      `:wrong-${password}`,
      /^Redis refused the credentials in the cluster\.redis URL \(WRONGPASS /,
    ],
    [
      "a user that does not exist",
      `nobody:${password}`,
      /^Redis refused the credentials in the cluster\.redis URL \(WRONGPASS /,
    ],
    ["no password", "", /^Redis requires a password, and the cluster\.redis URL gives none \(NOAUTH /],
  ])(
    "%s: the warning says why, once rather than at every retry, and never shows the password",
    async (_, auth, why) => {
      redis = await startRedis({ args: ["--requirepass", password] });
      const log = recording();
      const url = `redis://${auth ? `${auth}@` : ""}127.0.0.1:${redis.port}`;
      const cluster = await joined(url, log);
      await log.until(() => log.entries.some(unreachable), 10_000, "the unreachable warning");
      // Several reconnects later (each failing alike), and every tick between them failed too.
      const before = retries(log.entries).length;
      await log.until(() => retries(log.entries).length >= before + 6, 10_000, "three more reconnects");
      const warnings = log.entries.filter(unreachable);
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]?.fields.err)).toMatch(why);
      expect(cluster.view().reachable).toBe(false);
      expect(JSON.stringify(log.entries)).not.toContain(password);
    },
  );

  it("a new cause is told (refused connection, then refused password), each once", async () => {
    const port = await freePort();
    const log = recording();
    await joined(`redis://:wrong@127.0.0.1:${port}`, log);
    await log.until(() => log.entries.some(unreachable), 10_000, "the first warning");
    redis = await startRedis({ port, args: ["--requirepass", password] });
    await log.until(() => log.entries.filter(unreachable).length === 2, 10_000, "the second warning");
    const before = retries(log.entries).length;
    await log.until(() => retries(log.entries).length >= before + 6, 10_000, "three more reconnects");
    const causes = log.entries.filter(unreachable).map((e) => String(e.fields.err));
    expect(causes).toHaveLength(2);
    expect(causes[0]).toMatch(/^Redis: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect(causes[1]).toMatch(/^Redis refused the credentials in the cluster\.redis URL \(WRONGPASS /);
    expect(JSON.stringify(log.entries)).not.toMatch(/:wrong@/);
  });

  it("the right password joins, with no warning", async () => {
    redis = await startRedis({ args: ["--requirepass", password] });
    const log = recording();
    const cluster = await joined(`redis://:${encodeURIComponent(password)}@127.0.0.1:${redis.port}`, log);
    expect(cluster.view().reachable).toBe(true);
    expect(log.entries.filter((e) => e.level === "warn" || e.level === "error")).toEqual([]);
    expect(JSON.stringify(log.entries)).not.toContain(password);
  });
});

describe("the cause of a Redis failure as logged", () => {
  it("never shows a password: the URL's, standing alone, or any URL's", () => {
    expect(redisCause("ERR bad thing p4ssw0rd here", "p4ssw0rd")).toBe("Redis: ERR bad thing *** here");
    expect(redisCause("connect to redis://bob:hunter2@db:6379 failed")).toBe(
      "Redis: connect to redis://bob:***@db:6379 failed",
    );
    // A short password inside a word is no leak, and the message stays readable.
    expect(redisCause("Stream isn't writeable", "s")).toBe("Redis: Stream isn't writeable");
    // Up to the authority's last `@`: a password holding one is masked whole.
    expect(redisCause("connect to redis://:p@ss@db:6379/0 failed")).toBe(
      "Redis: connect to redis://:***@db:6379/0 failed",
    );
    // Decoded and as the URL gives it; the edge of a word is needed only where the password's is a letter or digit.
    expect(redisCause("AUTH p@ss/1 and p%40ss%2F1 refused", "p@ss/1")).toBe(
      "Redis: AUTH *** and *** refused",
    );
    expect(redisCause("ERR x:!pw! at the end", "!pw!")).toBe("Redis: ERR x:*** at the end");
    expect(redisCause("ERR x#pw#y", "#pw#")).toBe("Redis: ERR x***y");
    expect(redisCause("ERR xpw1 and pw1", "pw1")).toBe("Redis: ERR xpw1 and ***");
  });

  it("says a refusal of the credentials plainly, with Redis's reply", () => {
    expect(redisCause("WRONGPASS invalid username-password pair or user is disabled.", "x")).toBe(
      "Redis refused the credentials in the cluster.redis URL (WRONGPASS invalid username-password pair or user is disabled.)",
    );
    expect(redisCause("ERR invalid password")).toMatch(/^Redis refused the credentials/);
    expect(redisCause("NOAUTH Authentication required.")).toMatch(/^Redis requires a password/);
    expect(redisCause("NOAUTH Authentication required.", "given")).toMatch(/^Redis refused the credentials/);
    const noPerm = /^Redis refused a command to the cluster\.redis user: give it the permissions/;
    expect(redisCause("NOPERM this user has no permissions to run the 'evalsha' command")).toMatch(noPerm);
    // Anywhere in the message, however Redis words it.
    expect(
      redisCause("ERR Error running script: @user_script:1: NOPERM No permissions to access a key"),
    ).toMatch(noPerm);
    expect(redisCause("NOPERM this user has no permissions to access the 'x' channel")).toMatch(noPerm);
    expect(redisCause("ERR user can't publish to channel 'xz:events'")).toMatch(noPerm);
  });

  it("says, for a transaction Redis aborted, the command it refused", () => {
    const aborted = Object.assign(new Error("EXECABORT Transaction discarded because of previous errors."), {
      previousErrors: [new Error("NOPERM this user has no permissions to run the 'evalsha' command")],
    });
    expect(failureOf(aborted)).toBe("NOPERM this user has no permissions to run the 'evalsha' command");
    expect(failureOf(new Error("EXECABORT Transaction discarded"))).toBe("EXECABORT Transaction discarded");
    expect(failureOf(new Error("ERR other"))).toBe("ERR other");
  });
});
