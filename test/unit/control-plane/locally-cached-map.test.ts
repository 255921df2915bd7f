import { describe, expect, it } from "vitest";
import type { ExpiringMap } from "../../../src/control-plane/store/kv/expiring-map.js";
import { LocallyCachedMap } from "../../../src/control-plane/store/kv/locally-cached-map.js";
import { MemoryExpiringMap } from "../../../src/control-plane/store/kv/memory-expiring-map.js";
import { ManualClock } from "../../../src/shared/clock.js";

/** A shared map that records the keys it was asked for. */
function countingMap(clock: ManualClock): { map: ExpiringMap; reads: string[] } {
  const inner = new MemoryExpiringMap(clock);
  const reads: string[] = [];
  const map: ExpiringMap = {
    get: (key) => {
      reads.push(key);
      return inner.get(key);
    },
    getMany: (keys) => {
      reads.push(...keys);
      return inner.getMany(keys);
    },
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
    setIfAbsent: (key, value, ttlMs) => inner.setIfAbsent(key, value, ttlMs),
    setUnless: (key, value, ttlMs, blocker) => inner.setUnless(key, value, ttlMs, blocker),
    touch: (key, ttlMs) => inner.touch(key, ttlMs),
    delete: (key) => inner.delete(key),
    deleteIfEquals: (key, expected) => inner.deleteIfEquals(key, expected),
    scan: (prefix) => inner.scan(prefix),
  };
  return { map, reads };
}

describe("LocallyCachedMap", () => {
  it("answers what this replica read or wrote from memory until the local TTL, then reads the shared map again", async () => {
    const clock = new ManualClock(1_000_000);
    const { map: shared, reads } = countingMap(clock);
    const cached = new LocallyCachedMap(shared, { ttlMs: 5_000, maxEntries: 10, clock });
    await cached.set("sticky:a", "acc-1", 3_600_000);
    await shared.set("sticky:b", "acc-2", 3_600_000);

    expect(await cached.getMany(["sticky:a", "sticky:b"])).toEqual(["acc-1", "acc-2"]);
    expect(reads).toEqual(["sticky:b"]); // the written one never left memory
    expect(await cached.getMany(["sticky:a", "sticky:b"])).toEqual(["acc-1", "acc-2"]);
    expect(reads).toEqual(["sticky:b"]); // the read one is remembered too

    // Another replica rebinds b: seen once the local TTL has passed.
    await shared.set("sticky:b", "acc-3", 3_600_000);
    expect(await cached.get("sticky:b")).toBe("acc-2");
    clock.advance(5_001);
    expect(await cached.get("sticky:b")).toBe("acc-3");
  });

  it("never remembers a miss, and forgets what it deletes", async () => {
    const clock = new ManualClock(1_000_000);
    const { map: shared, reads } = countingMap(clock);
    const cached = new LocallyCachedMap(shared, { ttlMs: 5_000, maxEntries: 10, clock });
    expect(await cached.get("sticky:new")).toBeNull();
    await shared.set("sticky:new", "acc-1", 60_000); // bound by another replica
    expect(await cached.get("sticky:new")).toBe("acc-1");
    expect(reads).toEqual(["sticky:new", "sticky:new"]);
    await cached.delete("sticky:new");
    expect(await cached.get("sticky:new")).toBeNull();
  });

  it("keeps at most maxEntries, dropping the oldest, and never outlives the value's own TTL", async () => {
    const clock = new ManualClock(1_000_000);
    const { map: shared, reads } = countingMap(clock);
    const cached = new LocallyCachedMap(shared, { ttlMs: 5_000, maxEntries: 2, clock });
    await cached.set("k1", "1", 60_000);
    await cached.set("k2", "2", 60_000);
    await cached.set("k3", "3", 60_000);
    expect(await cached.getMany(["k1", "k2", "k3"])).toEqual(["1", "2", "3"]);
    expect(reads).toEqual(["k1"]);

    await cached.set("short", "x", 100);
    clock.advance(150);
    expect(await cached.get("short")).toBeNull();
  });

  it("drops entries past the local TTL as new ones arrive, even those never read again", async () => {
    const clock = new ManualClock(1_000_000);
    const { map: shared } = countingMap(clock);
    const cached = new LocallyCachedMap(shared, { ttlMs: 5_000, maxEntries: 100_000, clock });
    // A response pin per request, each written once and (mostly) never read: 1,000 requests a second.
    for (let i = 0; i < 20_000; i++) {
      await cached.set(`respin:resp_${i}`, "acc-1", 3_600_000);
      if (i % 1_000 === 999) clock.advance(1_000);
    }
    // Only the last 5 s (5,000 writes) are worth anything; before, every pin stayed until maxEntries.
    expect(cached.size).toBeLessThanOrEqual(5_000);
    expect(cached.size).toBeGreaterThanOrEqual(4_000);
    expect(await cached.get("respin:resp_19999")).toBe("acc-1");
  });
});
