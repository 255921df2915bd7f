import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LeaseStore } from "../../src/control-plane/store/leases/lease-store.js";
import { MemoryLeaseStore } from "../../src/control-plane/store/leases/memory-lease-store.js";
import { RedisLeaseStore } from "../../src/control-plane/store/leases/redis-lease-store.js";

const REDIS = { host: "127.0.0.1", port: 6379 };

const IMPLEMENTATIONS: Array<{
  name: string;
  open(): Promise<{ store: LeaseStore; close(): Promise<void> }>;
}> = [
  {
    name: "memory",
    open: async () => {
      const store = new MemoryLeaseStore();
      return { store, close: () => store.close() };
    },
  },
  {
    name: "redis",
    open: async () => {
      const keyPrefix = `test:pair:${randomBytes(6).toString("hex")}:`;
      const store = await RedisLeaseStore.open({ connection: REDIS, keyPrefix });
      return {
        store,
        close: async () => {
          await store.close();
          const admin = new Redis(REDIS);
          const keys = await admin.keys(`${keyPrefix}*`);
          if (keys.length > 0) await admin.del(...keys);
          await admin.quit();
        },
      };
    },
  },
];

describe.each(IMPLEMENTATIONS)("acquirePair on $name", (implementation) => {
  let store: LeaseStore;
  let close: () => Promise<void>;
  let user: string;
  let a: string;
  let b: string;
  let c: string;

  beforeEach(async () => {
    ({ store, close } = await implementation.open());
    const tag = randomBytes(4).toString("hex");
    [user, a, b, c] = [`user:${tag}`, `account:${tag}-a`, `account:${tag}-b`, `account:${tag}-c`];
  });
  afterEach(() => close());

  const loadOf = async (key: string) => (await store.loads([key])).get(key);

  it("takes the user slot and the least loaded account of the best rank, in one step", async () => {
    await store.acquire({ key: a, holder: "other", limit: 4, ttlMs: 60_000 });
    const result = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 2 },
      choices: [
        { key: a, limit: 4, rank: 50 },
        { key: b, limit: 4, rank: 50 },
        { key: c, limit: 4, rank: 60 },
      ],
    });
    expect(result).toEqual({ granted: true, choice: 1 });
    expect(await loadOf(user)).toEqual({ inUse: 1, waiting: 0 });
    expect(await loadOf(b)).toEqual({ inUse: 1, waiting: 0 });
    expect(await store.release(b, "h1")).toBe(true);
    expect(await store.release(user, "h1")).toBe(true);
  });

  it("prefers a lower rank over a lower load, and list order on ties", async () => {
    await store.acquire({ key: a, holder: "other", limit: 4, ttlMs: 60_000 });
    const choices = [
      { key: b, limit: 4, rank: 50 },
      { key: c, limit: 4, rank: 50 },
      { key: a, limit: 4, rank: 10 },
    ];
    const first = { key: user, limit: 0 };
    expect(await store.acquirePair({ holder: "h1", ttlMs: 60_000, first, choices })).toEqual({
      granted: true,
      choice: 2,
    });
    expect(
      await store.acquirePair({ holder: "h2", ttlMs: 60_000, first, choices: choices.slice(0, 2) }),
    ).toEqual({
      granted: true,
      choice: 0,
    });
  });

  it("takes nothing when the user is at its limit", async () => {
    await store.acquire({ key: user, holder: "x", limit: 1, ttlMs: 60_000 });
    const result = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 1 },
      choices: [{ key: a, limit: 4, rank: 0 }],
    });
    expect(result).toEqual({ granted: false, reason: "first_busy" });
    expect(await loadOf(a)).toEqual({ inUse: 0, waiting: 0 });
  });

  it("takes nothing when every account is full, or when the lead account is full", async () => {
    await store.acquire({ key: a, holder: "x", limit: 1, ttlMs: 60_000 });
    const none = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 5 },
      choices: [{ key: a, limit: 1, rank: 0 }],
    });
    expect(none).toEqual({ granted: false, reason: "choice_busy" });
    const lead = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 5 },
      choices: [
        { key: a, limit: 1, rank: -1, lead: true },
        { key: b, limit: 4, rank: 50 },
      ],
    });
    expect(lead).toEqual({ granted: false, reason: "choice_busy" });
    expect(await loadOf(user)).toEqual({ inUse: 0, waiting: 0 });
    expect(await loadOf(b)).toEqual({ inUse: 0, waiting: 0 });
  });

  it("never overtakes a waiter: a key with a queue counts as busy", async () => {
    await store.acquire({ key: user, holder: "x", limit: 1, ttlMs: 60_000 });
    const waiting = store.acquire({
      key: user,
      holder: "w",
      limit: 1,
      ttlMs: 60_000,
      wait: { maxWaiting: 5, timeoutMs: 5_000 },
    });
    await expect.poll(async () => (await loadOf(user))?.waiting).toBe(1);
    await store.release(user, "x");
    expect(await waiting).toMatchObject({ granted: true });
    const result = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 2 },
      choices: [{ key: a, limit: 1, rank: 0 }],
    });
    expect(result).toEqual({ granted: true, choice: 0 });
  });

  it("reports holders it finds expired", async () => {
    const expired: Array<[string, string]> = [];
    store.onExpired((key, holder) => expired.push([key, holder]));
    await store.acquire({ key: a, holder: "stale", limit: 1, ttlMs: 50 });
    await sleep(80);
    const result = await store.acquirePair({
      holder: "h1",
      ttlMs: 60_000,
      first: { key: user, limit: 1 },
      choices: [{ key: a, limit: 1, rank: 0 }],
    });
    expect(result).toEqual({ granted: true, choice: 0 });
    expect(expired).toContainEqual([a, "stale"]);
  });

  it("serves pair admits and releases asked for at the same moment in the order they were asked", async () => {
    const pair = (holder: string) =>
      store.acquirePair({
        holder,
        ttlMs: 60_000,
        first: { key: user, limit: 2 },
        choices: [
          { key: a, limit: 10, rank: 0 },
          { key: b, limit: 10, rank: 0 },
        ],
      });
    await pair("h0");
    // One turn of the event loop: a release, then four admits racing for the user's two slots.
    const [released, ...admits] = await Promise.all([
      store.releaseAll([user, a], "h0"),
      pair("h1"),
      pair("h2"),
      pair("h3"),
      pair("h4"),
    ]);
    expect(released).toEqual([true, true]);
    expect(admits.map((r) => r.granted)).toEqual([true, true, false, false]);
    // The two granted took different accounts (least loaded first), and the limit held.
    expect(admits.slice(0, 2)).toEqual([
      { granted: true, choice: 0 },
      { granted: true, choice: 1 },
    ]);
    expect(await loadOf(user)).toEqual({ inUse: 2, waiting: 0 });
    const [again, gone] = await Promise.all([
      store.releaseAll([user, a], "h1"),
      store.releaseAll([user, a], "h1"),
    ]);
    expect([again, gone]).toEqual([
      [true, true],
      [false, false],
    ]);
  });

  it("hands a slot freed by a release to the key's waiter before a pair admit asked for at the same moment", async () => {
    await store.acquire({ key: user, holder: "running", limit: 1, ttlMs: 60_000 });
    const waiter = store.acquire({
      key: user,
      holder: "waiting",
      limit: 1,
      ttlMs: 60_000,
      wait: { maxWaiting: 5, timeoutMs: 10_000 },
    });
    await expect.poll(async () => (await loadOf(user))?.waiting).toBe(1);
    const [released, admit] = await Promise.all([
      store.releaseAll([user], "running"),
      store.acquirePair({
        holder: "newcomer",
        ttlMs: 60_000,
        first: { key: user, limit: 1 },
        choices: [{ key: a, limit: 1, rank: 0 }],
      }),
    ]);
    expect(released).toEqual([true]);
    expect(admit).toEqual({ granted: false, reason: "first_busy" });
    expect(await waiter).toMatchObject({ granted: true });
    expect(await loadOf(user)).toEqual({ inUse: 1, waiting: 0 });
  });
});
