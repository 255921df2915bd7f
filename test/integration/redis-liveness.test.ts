import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { watchLiveness } from "../../src/control-plane/store/redis-liveness.js";
import { type RedisServer, startRedisServer } from "../support/redis-server.js";

/**
 * A connection the way the control plane opens its own (no offline queue, no retries) but with no command timeout:
 * on a frozen Redis a command waits until it answers again, unless the pings notice it first.
 */
describe("watchLiveness", () => {
  let server: RedisServer;
  let redis: Redis;
  let unwatch: () => void = () => undefined;

  beforeEach(async () => {
    server = await startRedisServer();
    redis = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    redis.on("error", () => undefined);
    await redis.connect();
  });
  afterEach(async () => {
    unwatch();
    redis.disconnect();
    await server.stop();
  });

  it("drops a connection whose pings go unanswered, so its commands fail at once, and is ready when Redis answers", async () => {
    unwatch = watchLiveness(redis, { name: "test", intervalMs: 100, timeoutMs: 300 });
    await redis.set("k", "before");
    server.freeze();
    const frozenAt = performance.now();
    const held = redis.get("k"); // sent before the drop: rejected by it, not left waiting for Redis
    await once(redis, "close");
    const noticedMs = performance.now() - frozenAt;
    await expect(held).rejects.toThrow();
    const started = performance.now();
    await expect(redis.get("k")).rejects.toThrow(/enableOfflineQueue/);
    expect(performance.now() - started).toBeLessThan(500);
    expect(noticedMs).toBeLessThan(3_000); // interval + timeout (0.4 s), with room for a busy machine

    server.thaw();
    await once(redis, "ready");
    expect(await redis.get("k")).toBe("before");
  });

  it("leaves a connection that answers alone", async () => {
    unwatch = watchLiveness(redis, { name: "test", intervalMs: 20, timeoutMs: 2_000 });
    let closed = 0;
    redis.on("close", () => closed++);
    const pings = async () =>
      Number((await redis.info("commandstats")).match(/cmdstat_ping:calls=(\d+)/)?.[1] ?? 0);
    const before = await pings();
    for (let i = 0; i < 50; i++) await redis.set(`k${i}`, String(i));
    // Several pings answered while commands run: no drop.
    await vi.waitFor(async () => expect(await pings()).toBeGreaterThanOrEqual(before + 5), {
      timeout: 10_000,
    });
    expect(closed).toBe(0);
    expect(redis.status).toBe("ready");
  });
});
