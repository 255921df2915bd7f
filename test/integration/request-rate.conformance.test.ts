import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryRequestRate } from "../../src/control-plane/store/rates/memory-request-rate.js";
import { RedisRequestRate } from "../../src/control-plane/store/rates/redis-request-rate.js";
import type { RequestRate } from "../../src/control-plane/store/rates/request-rate.js";
import { redisNamespace } from "../support/redis-namespace.js";

const namespace = redisNamespace("rate");
const redis = new Redis(namespace.url);
afterAll(async () => {
  await namespace.drop();
  redis.disconnect();
});

const NOW = Date.parse("2026-03-02T10:00:00Z");

const implementations: Array<[string, () => RequestRate]> = [
  ["memory", () => new MemoryRequestRate()],
  ["redis", () => new RedisRequestRate(redis, namespace.prefix)],
];

describe.each(implementations)("requests per minute on %s", (name, make) => {
  it("counts a rolling minute, a repeated request once, and says when the oldest leaves", async () => {
    const rate = make();
    const user = `u-${name}`;
    expect(await rate.take(user, "a", 2, 60_000, NOW)).toBe(0);
    expect(await rate.take(user, "a", 2, 60_000, NOW + 1)).toBe(0);
    expect(await rate.take(user, "b", 2, 60_000, NOW + 10_000)).toBe(0);
    expect(await rate.take(user, "c", 2, 60_000, NOW + 20_000)).toBe(40_000);
    expect(await rate.take(`${user}-other`, "c", 2, 60_000, NOW + 20_000)).toBe(0);
    expect(await rate.take(user, "c", 2, 60_000, NOW + 60_000)).toBe(0);
    expect(await rate.take(user, "d", 2, 60_000, NOW + 60_001)).toBe(9_999);
  });
});
