import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { ExpiringMap } from "../../src/control-plane/store/kv/expiring-map.js";
import { LocallyCachedMap } from "../../src/control-plane/store/kv/locally-cached-map.js";
import { MemoryExpiringMap } from "../../src/control-plane/store/kv/memory-expiring-map.js";
import { RedisExpiringMap } from "../../src/control-plane/store/kv/redis-expiring-map.js";
import { systemClock } from "../../src/shared/clock.js";

const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false });
afterAll(async () => {
  const keys = await redis.keys("sytest:kv:*");
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const implementations: Array<[string, () => ExpiringMap]> = [
  ["memory", () => new MemoryExpiringMap(systemClock)],
  ["redis", () => new RedisExpiringMap(redis, `sytest:kv:${randomBytes(4).toString("hex")}:`)],
  [
    "redis behind a local cache",
    () =>
      new LocallyCachedMap(new RedisExpiringMap(redis, `sytest:kv:${randomBytes(4).toString("hex")}:`), {
        ttlMs: 5_000,
        maxEntries: 100,
        clock: systemClock,
      }),
  ],
];

describe.each(implementations)("ExpiringMap on %s", (_name, make) => {
  it("stores, reads many, touches and deletes", async () => {
    const map = make();
    await map.set("a", "1", 60_000);
    await map.set("b", "2", 60_000);
    expect(await map.get("a")).toBe("1");
    expect(await map.getMany(["a", "missing", "b"])).toEqual(["1", null, "2"]);
    expect(await map.touch("a", 60_000)).toBe(true);
    expect(await map.touch("missing", 60_000)).toBe(false);
    expect(await map.delete("a")).toBe(true);
    expect(await map.delete("a")).toBe(false);
    expect(await map.get("a")).toBeNull();
  });

  it("deletes a key only while it holds the expected value", async () => {
    const map = await make();
    await map.set("cad", "one", 10_000);
    expect(await map.deleteIfEquals("cad", "two")).toBe(false);
    expect(await map.get("cad")).toBe("one");
    expect(await map.deleteIfEquals("cad", "one")).toBe(true);
    expect(await map.get("cad")).toBeNull();
    expect(await map.deleteIfEquals("cad", "one")).toBe(false);
  });

  it("sets only when absent", async () => {
    const map = make();
    expect(await map.setIfAbsent("k", "first", 60_000)).toBe(true);
    expect(await map.setIfAbsent("k", "second", 60_000)).toBe(false);
    expect(await map.get("k")).toBe("first");
  });

  it("sets a key unless another one exists", async () => {
    const map = make();
    expect(await map.setUnless("record", "v1", 60_000, "tombstone")).toBe(true);
    expect(await map.get("record")).toBe("v1");
    await map.set("tombstone", "1", 60_000);
    expect(await map.setUnless("record", "v2", 60_000, "tombstone")).toBe(false);
    expect(await map.get("record")).toBe("v1");
  });

  it("forgets entries after their TTL and a touch extends it", async () => {
    const map = make();
    await map.set("short", "x", 80);
    await map.set("kept", "y", 80);
    await new Promise((r) => setTimeout(r, 40));
    await map.touch("kept", 400);
    await new Promise((r) => setTimeout(r, 80));
    expect(await map.get("short")).toBeNull();
    expect(await map.get("kept")).toBe("y");
  });

  it("scans live entries by prefix with their expiry", async () => {
    const map = make();
    await map.set("sticky:g:u1:h1", "acc1", 60_000);
    await map.set("sticky:g:u2:h2", "acc2", 60_000);
    await map.set("other:1", "x", 60_000);
    const seen = [];
    for await (const e of map.scan("sticky:")) seen.push(e);
    expect(seen.map((e) => [e.key, e.value]).sort()).toEqual([
      ["sticky:g:u1:h1", "acc1"],
      ["sticky:g:u2:h2", "acc2"],
    ]);
    for (const e of seen) expect(e.expiresAt).toBeGreaterThan(Date.now() + 50_000);
  });

  it("applies writes asked for at the same moment in order, and reads asked for after them see them", async () => {
    const map = make();
    const [, deletedMissing, , deleted, , read, many, absent] = await Promise.all([
      map.set("k", "1", 60_000),
      map.delete("never-set"),
      map.set("gone", "x", 60_000),
      map.delete("gone"),
      map.set("k", "2", 60_000),
      map.get("k"),
      map.getMany(["k", "gone"]),
      map.setIfAbsent("k", "3", 60_000),
    ]);
    expect(deletedMissing).toBe(false);
    expect(deleted).toBe(true);
    expect(read).toBe("2");
    expect(many).toEqual(["2", null]);
    expect(absent).toBe(false);
    expect(await map.get("k")).toBe("2");
  });
});
