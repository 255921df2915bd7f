import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  AcquireRequest,
  AcquireResult,
  LeaseStore,
  SlotLoad,
} from "../../src/control-plane/store/leases/lease-store.js";
import { MemoryLeaseStore } from "../../src/control-plane/store/leases/memory-lease-store.js";
import { RedisLeaseStore } from "../../src/control-plane/store/leases/redis-lease-store.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";

const REDIS = { host: "127.0.0.1", port: 6379 };

/** One store per replica (the memory store is one replica, so every "replica" is the same instance). */
interface Fixture {
  replicas: LeaseStore[];
  close(): Promise<void>;
}

interface Implementation {
  name: string;
  open(replicas: number): Promise<Fixture>;
}

async function deleteKeys(prefix: string): Promise<void> {
  const admin = new Redis(REDIS);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: "memory",
    open: async (replicas) => {
      const store = new MemoryLeaseStore();
      return { replicas: Array.from({ length: replicas }, () => store), close: () => store.close() };
    },
  },
  {
    name: "redis",
    open: async (replicas) => {
      const keyPrefix = `test:lease:${randomBytes(6).toString("hex")}:`;
      const stores = await Promise.all(
        Array.from({ length: replicas }, () => RedisLeaseStore.open({ connection: REDIS, keyPrefix })),
      );
      return {
        replicas: stores,
        close: async () => {
          await Promise.all(stores.map((store) => store.close()));
          await deleteKeys(keyPrefix);
        },
      };
    },
  },
];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

describe.each(IMPLEMENTATIONS)("LeaseStore conformance: $name", (implementation) => {
  let fixture: Fixture;
  let key: string;

  beforeEach(async () => {
    fixture = await implementation.open(4);
    key = `user:${randomBytes(6).toString("hex")}`;
  });
  afterEach(() => fixture.close());

  function replica(i = 0): LeaseStore {
    const store = fixture.replicas[i % fixture.replicas.length];
    if (!store) throw new Error("no replica");
    return store;
  }

  async function loadOf(k = key, store = replica()): Promise<SlotLoad> {
    return (await store.loads([k])).get(k) ?? { inUse: -1, waiting: -1 };
  }

  /** Waits until `n` requests wait on the key, so the next one is known to arrive after them. */
  async function untilWaiting(n: number, k = key): Promise<void> {
    const deadline = performance.now() + 5000;
    while ((await loadOf(k)).waiting !== n) {
      if (performance.now() > deadline) throw new Error(`never ${n} waiting`);
      await sleep(1);
    }
  }

  function hold(holder: string, limit: number, ttlMs = 10_000, store = replica()): Promise<AcquireResult> {
    return store.acquire({ key, holder, limit, ttlMs });
  }

  function waitFor(
    holder: string,
    limit: number,
    wait: Partial<NonNullable<AcquireRequest["wait"]>> = {},
    store = replica(),
  ): Promise<AcquireResult> {
    return store.acquire({
      key,
      holder,
      limit,
      ttlMs: 10_000,
      wait: { maxWaiting: 50, timeoutMs: 10_000, ...wait },
    });
  }

  it("grants up to the limit at once, then answers busy to a caller that will not wait", async () => {
    expect(await hold("a", 2)).toEqual({ granted: true, waitedMs: 0 });
    expect(await hold("b", 2, 10_000, replica(1))).toEqual({ granted: true, waitedMs: 0 });
    expect(await hold("c", 2, 10_000, replica(2))).toEqual({ granted: false, reason: "busy" });
    expect(await loadOf()).toEqual({ inUse: 2, waiting: 0 });
  });

  it("never lets holders exceed the limit with 200 racing acquirers across replicas", async () => {
    const limit = 3;
    const racers = 200;
    let held = 0;
    let maxHeld = 0;
    let granted = 0;
    let released = 0;
    const sampled: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        sampled.push((await loadOf()).inUse);
        await sleep(1);
      }
    })();
    const results = await Promise.all(
      Array.from({ length: racers }, async (_, i) => {
        const store = replica(i);
        const holder = `racer-${i}`;
        const result = await store.acquire({
          key,
          holder,
          limit,
          ttlMs: 10_000,
          wait: { maxWaiting: racers, timeoutMs: 15_000 },
        });
        if (!result.granted) return result;
        granted++;
        held++;
        maxHeld = Math.max(maxHeld, held);
        await sleep(i % 3);
        held--;
        if (await store.release(key, holder)) released++;
        return result;
      }),
    );
    sampling = false;
    await sampler;
    expect(results.filter((r) => r.granted)).toHaveLength(racers);
    expect(granted).toBe(racers);
    expect(released).toBe(racers);
    expect(maxHeld).toBe(limit);
    expect(sampled.length).toBeGreaterThan(10);
    expect(Math.max(...sampled)).toBeLessThanOrEqual(limit);
    expect(Math.min(...sampled)).toBeGreaterThanOrEqual(0);
    expect(await loadOf()).toEqual({ inUse: 0, waiting: 0 });
  });

  it("grants waiters in arrival order as slots free", async () => {
    await hold("h0", 1);
    const order: number[] = [];
    const waits: Promise<AcquireResult>[] = [];
    for (let i = 1; i <= 6; i++) {
      waits.push(
        waitFor(`h${i}`, 1, {}, replica(i)).then((r) => {
          order.push(i);
          return r;
        }),
      );
      await untilWaiting(i);
    }
    for (let i = 1; i <= 6; i++) {
      expect(await replica(i + 1).release(key, `h${i - 1}`)).toBe(true);
      expect(await waits[i - 1]).toMatchObject({ granted: true });
      await sleep(10);
      expect(order).toEqual(Array.from({ length: i }, (_, j) => j + 1));
    }
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
  });

  it("serves waiters before a newcomer, even when a raised limit frees a slot", async () => {
    await hold("h0", 1);
    const first = waitFor("w1", 1, {}, replica(1));
    await untilWaiting(1);
    expect(await hold("newcomer", 2, 10_000, replica(2))).toEqual({ granted: false, reason: "busy" });
    expect(await first).toMatchObject({ granted: true });
    expect(await loadOf()).toEqual({ inUse: 2, waiting: 0 });
  });

  it("hands a freed slot to a waiter by push within 2 ms (p50)", async () => {
    const rounds = 200;
    const latencies: number[] = [];
    let previous = "h0";
    await hold(previous, 1);
    for (let i = 1; i <= rounds; i++) {
      const holder = `h${i}`;
      let grantedAt = 0;
      const waiting = waitFor(holder, 1, {}, replica(1)).then((r) => {
        grantedAt = performance.now();
        return r;
      });
      await untilWaiting(1);
      const releasedAt = performance.now();
      await replica(0).release(key, previous);
      expect(await waiting).toMatchObject({ granted: true });
      latencies.push(grantedAt - releasedAt);
      previous = holder;
    }
    const sorted = latencies.sort((x, y) => x - y);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    console.log(
      `[${implementation.name}] release → waiter granted over ${rounds} hand-offs: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`,
    );
    expect(p50).toBeLessThanOrEqual(2);
  });

  it("answers queue_full at once when maxWaiting requests already wait", async () => {
    await hold("h0", 1);
    const waits = [waitFor("w1", 1, { maxWaiting: 2 }), waitFor("w2", 1, { maxWaiting: 2 }, replica(1))];
    await untilWaiting(2);
    const started = performance.now();
    expect(await waitFor("w3", 1, { maxWaiting: 2 }, replica(2))).toEqual({
      granted: false,
      reason: "queue_full",
    });
    expect(performance.now() - started).toBeLessThan(500);
    expect(await waitFor("w4", 1, { maxWaiting: 0 })).toEqual({ granted: false, reason: "queue_full" });
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 2 });
    await replica().release(key, "h0");
    expect(await waits[0]).toMatchObject({ granted: true });
    await replica().release(key, "w1");
    expect(await waits[1]).toMatchObject({ granted: true });
  });

  it("gives up after timeoutMs, leaves the queue and is never granted afterwards", async () => {
    await hold("h0", 1);
    const started = performance.now();
    const result = await waitFor("w", 1, { timeoutMs: 200 }, replica(1));
    const waited = performance.now() - started;
    expect(result).toEqual({ granted: false, reason: "timeout" });
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1000);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    expect(await replica(2).release(key, "h0")).toBe(true);
    await sleep(50);
    expect(await loadOf()).toEqual({ inUse: 0, waiting: 0 });
    expect(await replica().renew(key, "w", 1000)).toBe(false);
  });

  it("lets a cancelled waiter leave at once and gives the slot to the next one", async () => {
    await hold("h0", 1);
    const controller = new AbortController();
    const cancelled = waitFor("w1", 1, { signal: controller.signal }, replica(1));
    const next = waitFor("w2", 1, {}, replica(2));
    await untilWaiting(2);
    const started = performance.now();
    controller.abort();
    expect(await cancelled).toEqual({ granted: false, reason: "cancelled" });
    expect(performance.now() - started).toBeLessThan(500);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 1 });
    await replica().release(key, "h0");
    expect(await next).toMatchObject({ granted: true });
    expect(await replica().renew(key, "w1", 1000)).toBe(false);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    const aborted = AbortSignal.abort();
    expect(await waitFor("w3", 1, { signal: aborted })).toEqual({ granted: false, reason: "cancelled" });
  });

  it("never leaves a slot with a waiter whose cancel raced the grant", async () => {
    const outcomes = { granted: 0, cancelled: 0 };
    for (let round = 0; round < 30; round++) {
      const k = `${key}:${round}`;
      await replica().acquire({ key: k, holder: "h0", limit: 1, ttlMs: 10_000 });
      const controller = new AbortController();
      const wait = { maxWaiting: 10, timeoutMs: 10_000 };
      const racing = replica(1).acquire({
        key: k,
        holder: "w1",
        limit: 1,
        ttlMs: 10_000,
        wait: { ...wait, signal: controller.signal },
      });
      const next = replica(2).acquire({ key: k, holder: "w2", limit: 1, ttlMs: 10_000, wait });
      await untilWaiting(2, k);
      // Abort before, alongside, just after or well after the release's answer, so the cancel meets the grant
      // at different points: before it, after it but before the waiter heard of it, or after the waiter did.
      const released = replica(3).release(k, "h0");
      if (round % 4 === 0) controller.abort();
      else if (round % 4 === 1) setImmediate(() => controller.abort());
      expect(await released).toBe(true);
      if (round % 4 === 3) await sleep(5);
      controller.abort();
      const raced = await racing;
      if (raced.granted) {
        outcomes.granted++;
        expect(await replica().release(k, "w1")).toBe(true);
      } else {
        outcomes.cancelled++;
        expect(raced).toEqual({ granted: false, reason: "cancelled" });
        expect(await replica().renew(k, "w1", 1000)).toBe(false);
      }
      expect(await next).toMatchObject({ granted: true });
      expect(await loadOf(k)).toEqual({ inUse: 1, waiting: 0 });
      expect(await replica().release(k, "w2")).toBe(true);
      expect(await loadOf(k)).toEqual({ inUse: 0, waiting: 0 });
    }
    expect(outcomes.granted + outcomes.cancelled).toBe(30);
    console.log(`[${implementation.name}] cancel racing a grant: ${JSON.stringify(outcomes)}`);
  });

  it("expires a holder after its TTL, reports it, and hands its slot to the next waiter", async () => {
    const expired: Array<[string, string]> = [];
    const unsubscribe = [...new Set(fixture.replicas)].map((store) =>
      store.onExpired((k, holder) => expired.push([k, holder])),
    );
    await hold("h0", 1, 150);
    const started = performance.now();
    expect(await waitFor("w", 1, { timeoutMs: 5000 }, replica(1))).toMatchObject({ granted: true });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(100);
    expect(waited).toBeLessThan(1200);
    expect(expired).toEqual([[key, "h0"]]);
    expect(await replica().renew(key, "h0", 1000)).toBe(false);
    expect(await replica().release(key, "h0")).toBe(false);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    for (const off of unsubscribe) off();
  });

  it("extends a renewed lease past its original expiry", async () => {
    const expired: string[] = [];
    replica().onExpired((_k, holder) => expired.push(holder));
    await hold("h0", 1, 200);
    await sleep(100);
    expect(await replica(1).renew(key, "h0", 400)).toBe(true);
    await sleep(200);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    expect(expired).toEqual([]);
    await sleep(300);
    expect(await loadOf()).toEqual({ inUse: 0, waiting: 0 });
    expect(expired).toEqual(["h0"]);
    expect(await replica(1).renew(key, "h0", 400)).toBe(false);
    expect(await replica(1).renew(key, "never-held", 400)).toBe(false);
  });

  it("releases idempotently and never counts below zero", async () => {
    await hold("h0", 1);
    expect(await replica(1).release(key, "h0")).toBe(true);
    expect(await replica(2).release(key, "h0")).toBe(false);
    expect(await replica(3).release(key, "stranger")).toBe(false);
    expect(await loadOf()).toEqual({ inUse: 0, waiting: 0 });
    expect(await hold("h1", 1)).toMatchObject({ granted: true });
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
  });

  it("releases several keys in one step, handing each freed slot to its waiter and reporting expired holders", async () => {
    const other = `account:${randomBytes(6).toString("hex")}`;
    const third = `account:${randomBytes(6).toString("hex")}`;
    const expired: Array<[string, string]> = [];
    const unsubscribe = [...new Set(fixture.replicas)].map((store) =>
      store.onExpired((k, holder) => expired.push([k, holder])),
    );
    await hold("h", 1);
    expect(await replica().acquire({ key: other, holder: "h", limit: 1, ttlMs: 10_000 })).toMatchObject({
      granted: true,
    });
    await replica().acquire({ key: third, holder: "gone", limit: 2, ttlMs: 50 });
    const waiter = waitFor("w", 1, { timeoutMs: 5000 }, replica(1));
    await untilWaiting(1);
    await sleep(80); // "gone" expires on `third`; the release below prunes it
    expect(await replica(2).releaseAll([key, other, third], "h")).toEqual([true, true, false]);
    expect(await waiter).toMatchObject({ granted: true });
    expect(await loadOf(other)).toEqual({ inUse: 0, waiting: 0 });
    expect(expired).toContainEqual([third, "gone"]);
    expect(await replica(3).releaseAll([key, other], "h")).toEqual([false, false]);
    expect(await replica().releaseAll([], "h")).toEqual([]);
    for (const off of unsubscribe) off();
  });

  it("treats a second acquire by the same holder as the same slot, refreshing its expiry", async () => {
    expect(await hold("h0", 1, 150)).toEqual({ granted: true, waitedMs: 0 });
    await sleep(50);
    expect(await hold("h0", 1, 1000, replica(1))).toEqual({ granted: true, waitedMs: 0 });
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    expect(await hold("h1", 1)).toEqual({ granted: false, reason: "busy" });
    await sleep(250);
    expect(await loadOf()).toEqual({ inUse: 1, waiting: 0 });
    expect(await replica().release(key, "h0")).toBe(true);
  });

  it("reports loads of several keys at once, pruning expired holders", async () => {
    const [busy, expiring, unused] = [`${key}:busy`, `${key}:expiring`, `${key}:unused`];
    const expired: Array<[string, string]> = [];
    replica().onExpired((k, holder) => expired.push([k, holder]));
    await replica().acquire({ key: busy, holder: "a", limit: 2, ttlMs: 10_000 });
    await replica(1).acquire({ key: busy, holder: "b", limit: 2, ttlMs: 10_000 });
    const waiting = replica(2).acquire({
      key: busy,
      holder: "c",
      limit: 2,
      ttlMs: 10_000,
      wait: { maxWaiting: 5, timeoutMs: 5000 },
    });
    await untilWaiting(1, busy);
    await replica().acquire({ key: expiring, holder: "x", limit: 5, ttlMs: 100 });
    await sleep(150);
    const loads = await replica().loads([busy, expiring, unused]);
    expect(Object.fromEntries(loads)).toEqual({
      [busy]: { inUse: 2, waiting: 1 },
      [expiring]: { inUse: 0, waiting: 0 },
      [unused]: { inUse: 0, waiting: 0 },
    });
    expect(expired).toEqual([[expiring, "x"]]);
    await replica().release(busy, "a");
    expect(await waiting).toMatchObject({ granted: true });
  });

  it("grants everyone when the limit is 0 (unlimited)", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => hold(`h${i}`, 0, 10_000, replica(i))),
    );
    expect(results.every((r) => r.granted)).toBe(true);
    expect(await loadOf()).toEqual({ inUse: 50, waiting: 0 });
  });

  it("rejects malformed requests with INVALID_ARGUMENT", async () => {
    for (const request of [
      { key, holder: "h", limit: -1, ttlMs: 1000 },
      { key, holder: "h", limit: 1, ttlMs: 0 },
      { key: "", holder: "h", limit: 1, ttlMs: 1000 },
      { key, holder: "h", limit: 1, ttlMs: 1000, wait: { maxWaiting: 1.5, timeoutMs: 1000 } },
    ]) {
      await expect(replica().acquire(request)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    }
    expect(await loadOf()).toEqual({ inUse: 0, waiting: 0 });
  });

  it("ends its waits with SHUTTING_DOWN when closed, taking them out of the queue", async () => {
    await hold("h0", 1, 10_000, replica(1));
    const waiting = waitFor("w", 1);
    await untilWaiting(1);
    await replica().close();
    const failure = await waiting.catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SwitchyardError);
    expect(failure).toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await expect(replica().acquire({ key, holder: "x", limit: 1, ttlMs: 1000 })).rejects.toMatchObject({
      code: ErrorCode.SHUTTING_DOWN,
    });
    if (fixture.replicas.length > 1 && replica(1) !== replica()) {
      expect(await loadOf(key, replica(1))).toEqual({ inUse: 1, waiting: 0 });
    }
  });
});
