import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLeaseStore } from "../../src/control-plane/store/leases/memory-lease-store.js";
import { ManualClock } from "../../src/shared/clock.js";

describe("MemoryLeaseStore on a manual clock", () => {
  let clock: ManualClock;
  let store: MemoryLeaseStore;
  const key = "account:1";

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2025, 0, 1));
    store = new MemoryLeaseStore({ clock });
  });
  afterEach(() => store.close());

  it("expires a 30 s lease when the clock passes it, without sleeping", async () => {
    const expired: string[] = [];
    store.onExpired((k, holder) => expired.push(`${k}/${holder}`));
    await store.acquire({ key, holder: "h0", limit: 1, ttlMs: 30_000 });
    clock.advance(29_999);
    expect(await store.renew(key, "h0", 30_000)).toBe(true);
    clock.advance(29_999);
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 0 });
    clock.advance(1);
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 0, waiting: 0 });
    expect(expired).toEqual([`${key}/h0`]);
    expect(await store.release(key, "h0")).toBe(false);
  });

  it("hands an expired holder's slot to the head waiter on the next touch", async () => {
    await store.acquire({ key, holder: "h0", limit: 1, ttlMs: 30_000 });
    const first = store.acquire({
      key,
      holder: "w1",
      limit: 1,
      ttlMs: 30_000,
      wait: { maxWaiting: 5, timeoutMs: 60_000 },
    });
    const second = store.acquire({
      key,
      holder: "w2",
      limit: 1,
      ttlMs: 30_000,
      wait: { maxWaiting: 5, timeoutMs: 60_000 },
    });
    clock.advance(30_000);
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 1 });
    expect(await first).toMatchObject({ granted: true });
    expect(await store.release(key, "w1")).toBe(true);
    expect(await second).toMatchObject({ granted: true });
    expect((await store.loads([key])).get(key)).toEqual({ inUse: 1, waiting: 0 });
  });
});
