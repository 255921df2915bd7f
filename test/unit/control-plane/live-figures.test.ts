import { describe, expect, it } from "vitest";
import { TrafficWindow } from "../../../src/control-plane/domain/admission/traffic-window.js";
import { WaitingRequests } from "../../../src/control-plane/domain/admission/waiting-requests.js";
import { MemoryExpiringMap } from "../../../src/control-plane/store/kv/memory-expiring-map.js";
import { ManualClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";

describe("the overview's traffic window", () => {
  it("counts admits and refusals as requests, refusals and failures as errors, over the last minute only", () => {
    const clock = new ManualClock(1_000_000);
    const traffic = new TrafficWindow(clock);
    traffic.admitted();
    traffic.admitted();
    traffic.refused();
    traffic.failed();
    expect(traffic.totals()).toEqual({ requests: 3, errors: 2, windowMs: 60_000 });

    clock.advance(30_000);
    traffic.admitted();
    expect(traffic.totals()).toEqual({ requests: 4, errors: 2, windowMs: 60_000 });

    // The first second's counts leave the window 60 s after it; the later admit stays.
    clock.advance(30_000);
    expect(traffic.totals()).toEqual({ requests: 1, errors: 0, windowMs: 60_000 });
    clock.advance(120_000);
    expect(traffic.totals()).toEqual({ requests: 0, errors: 0, windowMs: 60_000 });
  });

  it("does not count a slot again when its second comes round a minute later", () => {
    const clock = new ManualClock(5_000);
    const traffic = new TrafficWindow(clock);
    traffic.refused();
    clock.advance(60_000);
    traffic.admitted();
    expect(traffic.totals()).toEqual({ requests: 1, errors: 0, windowMs: 60_000 });
  });
});

describe("the list of waiting requests", () => {
  const waiter = (requestId: string, userId: string, since: number) => ({
    requestId,
    instanceId: "dp-1",
    userId,
    keyId: "k",
    groupId: "g",
    model: "gpt-4o",
    target: "user_slot" as const,
    since,
    deadline: since + 30_000,
  });

  it("lists waiters longest waiting first, by user, and forgets those that left or outlived their deadline", async () => {
    const clock = new ManualClock(1_000_000);
    const waiting = new WaitingRequests(
      new MemoryExpiringMap(clock),
      clock,
      createLogger({ level: "silent" }),
    );
    await waiting.enter(waiter("r2", "u1", 1_000_500));
    await waiting.enter(waiter("r1", "u2", 1_000_000));
    await waiting.enter(waiter("r3", "u1", 1_001_000));
    expect((await waiting.list({ limit: 10 })).map((w) => w.requestId)).toEqual(["r1", "r2", "r3"]);
    expect((await waiting.list({ userId: "u1", limit: 1 })).map((w) => w.requestId)).toEqual(["r2"]);

    await waiting.enter({ ...waiter("r2", "u1", 1_000_500), target: "account_slot" });
    expect((await waiting.list({ userId: "u1", limit: 1 }))[0]?.target).toBe("account_slot");

    await waiting.leave("r1");
    expect((await waiting.list({ limit: 10 })).map((w) => w.requestId)).toEqual(["r2", "r3"]);
    // A replica that died mid-wait leaves nothing behind past the deadline (plus a second).
    clock.advance(32_000);
    expect(await waiting.list({ limit: 10 })).toEqual([]);
  });
});
