import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RedisLeaseStore } from "../../src/control-plane/store/leases/redis-lease-store.js";
import { ErrorCode } from "../../src/shared/errors.js";
import { type RedisServer, startRedisServer } from "../support/redis-server.js";

const REDIS = { host: "127.0.0.1", port: 6379 };
const unique = (): string => randomBytes(6).toString("hex");

/** Resolves to how long `operation` took to reject, and with what. */
async function rejection(operation: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await operation();
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
  throw new Error("expected a rejection");
}

describe("RedisLeaseStore when Redis goes away", () => {
  let server: RedisServer;
  let store: RedisLeaseStore;

  beforeEach(async () => {
    server = await startRedisServer();
    store = await RedisLeaseStore.open({
      connection: { host: server.host, port: server.port },
      keyPrefix: `test:lease:${unique()}:`,
    });
  });
  afterEach(async () => {
    await store.close();
    await server.stop();
  });

  it("fails closed: waiting and new operations reject with STORE_UNAVAILABLE within a second", async () => {
    const key = "user:1";
    expect(await store.acquire({ key, holder: "h0", limit: 1, ttlMs: 30_000 })).toMatchObject({
      granted: true,
    });
    let stoppedAt = Number.POSITIVE_INFINITY;
    // Handled from the start: the rejection may come while the server is still being stopped.
    const waitFailure = store
      .acquire({ key, holder: "w", limit: 1, ttlMs: 30_000, wait: { maxWaiting: 5, timeoutMs: 30_000 } })
      .then(
        (result) => ({ result, ms: 0 }),
        (error: unknown) => ({ error, ms: performance.now() - stoppedAt }),
      );
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 1 });
    stoppedAt = performance.now();
    await server.stop();
    const failure = await waitFailure;
    expect(failure).toMatchObject({ error: { code: ErrorCode.STORE_UNAVAILABLE } });
    expect(failure.ms).toBeLessThan(1000);
    for (const operation of [
      () => store.acquire({ key, holder: "x", limit: 1, ttlMs: 1000 }),
      () =>
        store.acquire({ key, holder: "y", limit: 1, ttlMs: 1000, wait: { maxWaiting: 5, timeoutMs: 5000 } }),
      () => store.release(key, "h0"),
      () => store.renew(key, "h0", 1000),
      () => store.loads([key]),
    ]) {
      const { ms, error } = await rejection(operation);
      expect(error).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      expect(ms).toBeLessThan(1000);
    }
  });

  it("treats a Redis that stops answering (frozen) as gone: operations reject at once until it answers again", async () => {
    const key = "user:1";
    expect(await store.acquire({ key, holder: "h0", limit: 1, ttlMs: 30_000 })).toMatchObject({
      granted: true,
    });
    let reconnected = 0;
    store.onReconnected(() => reconnected++);
    server.freeze();
    // The first operations wait out their command timeout; once the unanswered pings drop the connections, none do.
    await vi.waitFor(async () => expect((await rejection(() => store.loads([key]))).ms).toBeLessThan(500), {
      timeout: 5_000,
      interval: 50,
    });
    for (const operation of [
      () => store.acquire({ key, holder: "x", limit: 1, ttlMs: 1000 }),
      () => store.release(key, "h0"),
      () => store.renew(key, "h0", 1000),
    ]) {
      const { ms, error } = await rejection(operation);
      expect(error).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      expect(ms).toBeLessThan(500);
    }
    server.thaw();
    await vi.waitFor(() => expect(reconnected).toBe(1), { timeout: 5_000 });
    // Back with its data: the slot taken before the freeze is still held.
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 0 });
  });

  it("gives back the slots that admits refused during a freeze take when Redis works off what they sent", async () => {
    const pair = (holder: string) =>
      store.acquirePair({
        holder,
        ttlMs: 60_000, // far longer than the test: only the give-back can free the slot
        first: { key: "user:frozen", limit: 1 },
        choices: [{ key: "account:frozen", limit: 1, rank: 0, lead: false }],
      });
    server.freeze();
    // Sent, then given up on: the caller is refused, but the script sits in Redis's socket buffer.
    await expect(pair("refused")).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    server.thaw();
    // Redis runs the refused admit when it resumes; its slots are given back, so an admit soon gets them.
    await vi.waitFor(
      async () => expect(await pair(`next-${performance.now()}`)).toMatchObject({ granted: true }),
      {
        timeout: 5_000,
        interval: 100,
      },
    );
    expect((await store.loads(["user:frozen"])).get("user:frozen")).toEqual({ inUse: 1, waiting: 0 });
  });

  it("refuses to open with STORE_UNAVAILABLE when Redis is not there", async () => {
    await server.stop();
    const { ms, error } = await rejection(() =>
      RedisLeaseStore.open({
        connection: { host: server.host, port: server.port },
        keyPrefix: "test:lease:",
        connectTimeoutMs: 500,
      }),
    );
    expect(error).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(ms).toBeLessThan(1500);
  });
});

describe("RedisLeaseStore replicas sharing one Redis", () => {
  const keyPrefix = `test:lease:${unique()}:`;
  let admin: Redis;
  let live: RedisLeaseStore;
  let doomed: RedisLeaseStore;
  const doomedId = `doomed-${unique()}`;

  beforeEach(async () => {
    admin = new Redis(REDIS);
    live = await RedisLeaseStore.open({ connection: REDIS, keyPrefix });
    doomed = await RedisLeaseStore.open({ connection: REDIS, keyPrefix, instanceId: doomedId });
  });
  afterEach(async () => {
    await Promise.all([live.close(), doomed.close()]);
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  /** Cuts a replica off as a crash would: Redis drops its connections, so its waiters are never cancelled. */
  async function cutOff(instanceId: string): Promise<void> {
    const clients = (await admin.client("LIST")) as string;
    const ids = clients
      .split("\n")
      .filter((line) => line.includes(`name=switchyard-lease:${instanceId}`))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]);
    expect(ids).toHaveLength(2);
    for (const id of ids) await admin.client("KILL", "ID", String(id));
  }

  it("prunes a dead replica's waiter at its deadline so the queue moves on", async () => {
    const key = `user:${unique()}`;
    const request = { key, limit: 1, ttlMs: 10_000 };
    await live.acquire({ ...request, holder: "h0" });
    const orphan = doomed.acquire({ ...request, holder: "orphan", wait: { maxWaiting: 5, timeoutMs: 300 } });
    const orphanOutcome = orphan.catch((error: unknown) => error);
    await sleep(20);
    const next = live.acquire({ ...request, holder: "next", wait: { maxWaiting: 5, timeoutMs: 5000 } });
    await sleep(20);
    expect((await live.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 2 });
    await cutOff(doomedId);
    expect(await orphanOutcome).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    // The orphaned entry still heads the queue in Redis until its own deadline passes.
    expect((await live.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 2 });
    await sleep(350);
    expect(await live.release(key, "h0")).toBe(true);
    expect(await next).toMatchObject({ granted: true });
    expect(await live.renew(key, "orphan", 1000)).toBe(false);
    expect((await live.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 0 });
  });

  it("keeps each replica's wake-ups on its own channel", async () => {
    const key = `user:${unique()}`;
    const request = { key, limit: 1, ttlMs: 10_000, wait: { maxWaiting: 5, timeoutMs: 5000 } };
    await live.acquire({ key, holder: "h0", limit: 1, ttlMs: 10_000 });
    const granted: string[] = [];
    const first = doomed.acquire({ ...request, holder: "on-doomed" }).then((r) => {
      granted.push("on-doomed");
      return r;
    });
    await sleep(20);
    const second = live.acquire({ ...request, holder: "on-live" }).then((r) => {
      granted.push("on-live");
      return r;
    });
    await sleep(20);
    const subscribers = await admin.pubsub("CHANNELS", `${keyPrefix}wake:*`);
    expect(subscribers).toHaveLength(2);
    await live.release(key, "h0");
    expect(await first).toMatchObject({ granted: true });
    await sleep(20);
    expect(granted).toEqual(["on-doomed"]);
    await doomed.release(key, "on-doomed");
    expect(await second).toMatchObject({ granted: true });
    expect(granted).toEqual(["on-doomed", "on-live"]);
  });
});
