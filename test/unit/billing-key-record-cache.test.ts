import { describe, expect, it } from "vitest";
import { type KeyRecord, NO_KEY_CONTROLS } from "../../src/control-plane/domain/admission/directory.js";
import { KeyRecordCache } from "../../src/control-plane/domain/billing/key-record-cache.js";
import { NO_LIMITS } from "../../src/control-plane/domain/billing/subscription-limits.js";
import { ManualClock } from "../../src/shared/clock.js";

/** Key hash → its owner: u1 has a key in g1 and one in g2, u2 one in g1. */
const KEYS: Record<string, { userId: string; groupId: string }> = {
  h1: { userId: "u1", groupId: "g1" },
  h2: { userId: "u1", groupId: "g2" },
  h3: { userId: "u2", groupId: "g1" },
};

function recordOf(hash: string, balance: bigint): KeyRecord | null {
  const owner = KEYS[hash];
  if (!owner) return null;
  return {
    keyId: `key-${hash}`,
    keyStatus: "active",
    expiresAt: null,
    quotaUsd: null,
    quotaUsedUsd: 0n,
    userId: owner.userId,
    userStatus: "active",
    userConcurrency: 1,
    balanceUsd: balance,
    groupId: owner.groupId,
    billingMode: "balance",
    limitsUsd: NO_LIMITS,
    subscription: null,
    controls: NO_KEY_CONTROLS,
  };
}

/** A cache over a fake database that counts lookups and can hold them until released. */
function harness(options: { waitMs?: number } = {}) {
  const clock = new ManualClock(1_000_000);
  const lookups: string[] = [];
  let balance = 100n;
  let gate: Promise<void> | null = null;
  const cache = new KeyRecordCache({
    clock,
    maxAgeMs: 1_000,
    maxEntries: 3,
    ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs, slow: () => new Error("slow lookup") }),
    lookup: async (hash) => {
      lookups.push(hash);
      const read = recordOf(hash, balance); // read before the gate: what a query that started now would see
      if (gate) await gate;
      return read;
    },
  });
  return {
    clock,
    cache,
    lookups,
    setBalance: (b: bigint) => {
      balance = b;
    },
    hold: () => {
      let open = () => {};
      gate = new Promise((r) => {
        open = r;
      });
      return () => {
        gate = null;
        open();
      };
    },
    warm: async (...hashes: string[]) => {
      for (const h of hashes) await cache.get(h);
      lookups.length = 0;
    },
  };
}

describe("the key record cache", () => {
  it("serves a record for under the max age, then looks it up again", async () => {
    const h = harness();
    await h.warm("h1");
    h.clock.advance(999);
    await h.cache.get("h1");
    expect(h.lookups).toEqual([]);
    h.clock.advance(1);
    await h.cache.get("h1");
    expect(h.lookups).toEqual(["h1"]);
  });

  it("drops only the keys of a changed user (how billing announces a moved balance)", async () => {
    const h = harness();
    await h.warm("h1", "h2", "h3");
    h.setBalance(0n);
    h.cache.invalidate({ kind: "user", id: "u1" });
    expect((await h.cache.get("h1"))?.balanceUsd).toBe(0n);
    expect((await h.cache.get("h2"))?.balanceUsd).toBe(0n);
    expect((await h.cache.get("h3"))?.balanceUsd).toBe(100n);
    expect(h.lookups).toEqual(["h1", "h2"]);
  });

  it("drops only the changed key, or the changed group's keys", async () => {
    const h = harness();
    await h.warm("h1", "h2", "h3");
    h.cache.invalidate({ kind: "api_key", id: "key-h2" });
    await Promise.all(["h1", "h2", "h3"].map((k) => h.cache.get(k)));
    expect(h.lookups).toEqual(["h2"]);
    h.lookups.length = 0;
    h.cache.invalidate({ kind: "group", id: "g1" });
    await Promise.all(["h1", "h2", "h3"].map((k) => h.cache.get(k)));
    expect(h.lookups).toEqual(["h1", "h3"]);
  });

  it("drops everything on a subscription change, and nothing on unrelated changes", async () => {
    const h = harness();
    await h.warm("h1", "h3");
    h.cache.invalidate({ kind: "account", id: "a1" });
    h.cache.invalidate({ kind: "model_price", id: "gpt-4o" });
    h.cache.invalidate({ kind: "user", id: "someone-else" });
    await Promise.all(["h1", "h3"].map((k) => h.cache.get(k)));
    expect(h.lookups).toEqual([]);
    h.cache.invalidate({ kind: "subscription", id: "s-new" });
    await Promise.all(["h1", "h3"].map((k) => h.cache.get(k)));
    expect(h.lookups).toEqual(["h1", "h3"]);
  });

  it("shares one lookup between concurrent misses on a key", async () => {
    const h = harness();
    const open = h.hold();
    const both = Promise.all([h.cache.get("h1"), h.cache.get("h1")]);
    open();
    const [a, b] = await both;
    expect(a).toBe(b);
    expect(h.lookups).toEqual(["h1"]);
  });

  it("does not keep a lookup that overlapped a change to its user, nor let later callers join it", async () => {
    const h = harness();
    const open = h.hold();
    const early = h.cache.get("h1"); // reads balance 100, then waits
    h.setBalance(0n);
    h.cache.invalidate({ kind: "user", id: "u1" }); // committed while the lookup was in flight
    const late = h.cache.get("h1"); // must not join the stale lookup
    open();
    expect((await early)?.balanceUsd).toBe(100n);
    expect((await late)?.balanceUsd).toBe(0n);
    expect((await h.cache.get("h1"))?.balanceUsd).toBe(0n);
    expect(h.lookups).toEqual(["h1", "h1"]);
  });

  it("keeps a lookup that overlapped only changes to others", async () => {
    const h = harness();
    const open = h.hold();
    const pending = h.cache.get("h1");
    h.cache.invalidate({ kind: "user", id: "u2" });
    open();
    await pending;
    await h.cache.get("h1");
    expect(h.lookups).toEqual(["h1"]);
  });

  it("caches unknown keys as null, and starts over past its size bound", async () => {
    const h = harness();
    expect(await h.cache.get("unknown")).toBeNull();
    await h.cache.get("unknown");
    expect(h.lookups).toEqual(["unknown"]);
    await h.warm("h1", "h2", "h3");
    expect(h.cache.size).toBe(1);
  });

  it("does not hold callers for a lookup that goes unanswered: the record last read serves, a new key fails", async () => {
    const h = harness({ waitMs: 20 });
    await h.warm("h1");
    h.clock.advance(1_000); // past the max age: the next get looks it up again
    h.setBalance(7n);
    const open = h.hold(); // the database stops answering (frozen, cut off)
    expect((await h.cache.get("h1"))?.balanceUsd).toBe(100n); // after waitMs, the record last read
    expect((await h.cache.get("h1"))?.balanceUsd).toBe(100n); // at once: its lookup is still running
    await expect(h.cache.get("h3")).rejects.toThrow("slow lookup"); // never read: nothing to fall back on
    expect(h.lookups).toEqual(["h1", "h3"]);
    open(); // answered at last: what it read is kept
    await expect.poll(async () => (await h.cache.get("h1"))?.balanceUsd).toBe(7n);
    expect(h.lookups).toEqual(["h1", "h3"]);
  });

  it("never falls back to a record a change dropped, however slow its new lookup", async () => {
    const h = harness({ waitMs: 20 });
    await h.warm("h1");
    const open = h.hold();
    h.cache.invalidate({ kind: "api_key", id: "key-h1" }); // e.g. revoked
    await expect(h.cache.get("h1")).rejects.toThrow("slow lookup");
    open();
  });
});
