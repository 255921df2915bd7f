import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { LeaseKeeper } from "../../src/data-plane/control/lease-keeper.js";
import type { Lease } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { newRequestId } from "../../src/shared/ids.js";
import { dataPlaneChannel, seedTenant, startTestControlPlane, testLogger } from "../support/control-plane.js";
import { admitOf } from "../support/gateway-requests.js";
import { type RedisServer, restartRedisServer, startRedisServer } from "../support/redis-server.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;

/** Redis keys of a user's slot (see redis-lease-scripts.ts): holders and queue. */
const slotKeys = (prefix: string, userId: string) => ({
  holders: `${prefix}{user:${userId}}:h`,
  queue: `${prefix}{user:${userId}}:q`,
});

/**
 * A data plane's lease side (channel + keeper, as src/data-plane/main.ts wires them) running `n` requests that hold
 * their leases, against a user whose concurrency is `n`.
 */
async function runningRequests(cp: ControlPlane, n: number) {
  const tenant = await seedTenant(cp.admin, { userConcurrency: n, accounts: [{ concurrency: 10 }] });
  const keeper = new LeaseKeeper({ log: testLogger(), tickMs: 100 });
  const dp = dataPlaneChannel(cp.url, `dp-${newRequestId()}`, { reassertion: () => keeper.reassertion() });
  keeper.start(dp);
  await dp.waitConnected(10_000);
  const leases: Lease[] = [];
  for (let i = 0; i < n; i++) {
    const { lease } = await dp.call("admit", admitOf(tenant.key), { timeoutMs: 10_000 });
    if (!lease) throw new Error("no lease");
    keeper.hold(lease);
    leases.push(lease);
  }
  return { tenant, keeper, dp, leases };
}

/** Asserts a new admit for the user queues (the limit holds) and is granted once a running lease is released. */
async function expectNextAdmitToWait(
  redis: Redis,
  prefix: string,
  run: Awaited<ReturnType<typeof runningRequests>>,
): Promise<void> {
  const { queue } = slotKeys(prefix, run.tenant.user.id);
  let granted = false;
  const next = run.dp.call("admit", admitOf(run.tenant.key), { timeoutMs: 20_000 }).then((r) => {
    granted = true;
    return r;
  });
  await expect.poll(() => redis.zcard(queue), { timeout: 10_000 }).toBe(1);
  expect(granted).toBe(false);
  await run.dp.call(
    "release",
    { leaseId: run.leases[0]?.leaseId ?? "", outcome: Outcome.COMPLETED },
    {
      timeoutMs: 10_000,
    },
  );
  const { lease } = await next;
  expect(lease?.leaseId).toBeTruthy();
}

describe("lease re-assertion (docs/adr/0004)", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("counts a data plane's running leases again when it reconnects after an outage longer than the TTL", async () => {
    const ttl = 1_500;
    const cp = await startTestControlPlane("reassert_outage", { leaseTtlMs: ttl });
    cleanups.push(() => cp.stop());
    const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false });
    cleanups.push(async () => redis.disconnect());
    const run = await runningRequests(cp, 2);
    cleanups.push(() => run.dp.close());
    cleanups.push(async () => run.keeper.stop());
    const { holders } = slotKeys(cp.redisPrefix, run.tenant.user.id);
    expect(await redis.zcard(holders)).toBe(2);

    await cp.pause();
    await sleep(ttl * 2); // the outage outlasts the lease TTL: both slots expire meanwhile
    await redis.zremrangebyscore(holders, "-inf", Date.now()); // what the next touch would prune
    expect(await redis.zcard(holders)).toBe(0);
    await cp.resume();
    await run.dp.waitConnected(10_000);

    // Re-asserted with the channel's first message, before anything else it sends.
    expect(await redis.zcard(holders)).toBe(2);
    await expectNextAdmitToWait(redis, cp.redisPrefix, run);
  });

  it("asks data planes to re-assert when its Redis comes back empty, and holds new admits until they have", async () => {
    let server: RedisServer = await startRedisServer();
    cleanups.push(() => server.stop());
    const url = `redis://127.0.0.1:${server.port}/0`;
    const cp = await startTestControlPlane("reassert_redis", { leaseTtlMs: 3_000, redisUrl: url });
    cleanups.push(() => cp.stop());
    const run = await runningRequests(cp, 2);
    cleanups.push(() => run.dp.close());
    cleanups.push(async () => run.keeper.stop());
    const { holders } = slotKeys(cp.redisPrefix, run.tenant.user.id);

    await server.stop();
    server = await restartRedisServer(server.port); // empty: every slot and lease record is gone
    const redis = new Redis(url);
    cleanups.push(async () => redis.disconnect());
    await expect.poll(() => redis.zcard(holders), { timeout: 15_000 }).toBe(2);
    await expectNextAdmitToWait(redis, cp.redisPrefix, run);
  });
});
