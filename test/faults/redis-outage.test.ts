import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { statusCounts, steadyLoad } from "./support/steady-load.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, seedTenant, waitForUsage } from "./support/tenants.js";
import { complete, type OpenStream, openStream } from "./support/traffic.js";

const SCENARIO = "Redis restarted under load";
const TTL_MS = 6_000;
const SIZE = sized({
  reduced: { limit: 4, clients: 6, outageMs: 4_000 },
  full: { limit: 8, clients: 16, outageMs: 10_000 },
});
/** From Redis listening again to the first request served (its reconnect backoff is at most 1 s). */
const RECOVERY_BUDGET_MS = 2_000;

describe("when Redis restarts empty (kill -9, no persistence) under load", () => {
  let stack: FaultStack;
  let admin: Admin;
  let dp: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({ label: "redis-outage", leaseTtlMs: TTL_MS });
    admin = stack.adminOf();
    dp = await stack.startDataPlane();
  });
  afterAll(() => stack?.stop());

  it("answers 503 fast meanwhile, recovers within 2 s, holds the user's limit and loses no usage", async () => {
    // One user holds its whole concurrency with streams that outlast the outage; another sends a steady load.
    const holderFake = await stack.startFake();
    const holder = await seedTenant(admin, { fake: holderFake, userConcurrency: SIZE.limit });
    holderFake.script({ text: "x".repeat(120), events: 120, eventDelayMs: 100, times: SIZE.limit });
    holderFake.script({ text: "y".repeat(5), events: 5, eventDelayMs: 50 });
    const loadFake = await stack.startFake();
    const loaded = await seedTenant(admin, { fake: loadFake, userConcurrency: SIZE.clients * 2 });
    const running: OpenStream[] = await Promise.all(
      Array.from({ length: SIZE.limit }, () => openStream(dp.url, holder.key)),
    );
    const load = steadyLoad(dp.url, loaded.key, SIZE.clients);
    await waitFor(() => load.answers.filter((a) => a.status === 200).length >= 20, { what: "load served" });

    const downAt = Date.now();
    await stack.redis.stop("kill");
    await until(downAt + SIZE.outageMs);
    const restartAt = Date.now(); // Redis may serve before start() has seen it answer: "down" ends here
    await stack.redis.start(); // empty: every slot, queue, lease record and sticky binding is gone
    const upAt = Date.now();
    await waitFor(() => load.answers.some((a) => a.sentAt >= upAt && a.status === 200), {
      what: "a request served after Redis is back",
    });
    // Requests of the user whose streams were running: they must wait for those streams, not run beside them.
    let maxInFlight = 0;
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, holderFake.inFlight);
    }, 2);
    const after = await Promise.all(
      Array.from({ length: SIZE.limit }, () => complete(dp.url, holder.key, "chat")),
    );
    clearInterval(sampler);
    const finished = await Promise.all(running.map((s) => s.reader.readToEnd()));
    const answers = await load.stop();

    const during = answers.filter((a) => a.sentAt >= downAt + 500 && a.answeredAt <= restartAt);
    const firstServed = Math.min(
      ...answers.filter((a) => a.sentAt >= upAt && a.status === 200).map((a) => a.answeredAt),
    );
    const recoveryMs = firstServed - upAt;
    const served = answers.filter((a) => a.status === 200);
    const records = await waitForUsage(admin, loaded.userId, (r) => r.length >= served.length, 30_000);
    const recorded = new Set(records.map((r) => r.requestId));
    const lost = served.filter((a) => !recorded.has(a.requestId)).length;
    const holderRecords = await waitForUsage(admin, holder.userId, (r) => r.length >= 2 * SIZE.limit, 30_000);
    const slowest503 = Math.max(
      0,
      ...during.filter((a) => a.status === 503).map((a) => a.answeredAt - a.sentAt),
    );
    recordFigures(SCENARIO, {
      "Redis down (ms)": restartAt - downAt,
      "answers while down (status: count)": JSON.stringify(statusCounts(during)),
      "slowest 503 while down (ms)": slowest503,
      "recovery, Redis listening → first request served (ms)": recoveryMs,
      "max concurrent upstream streams of the limited user after recovery (limit)": `${maxInFlight} (${SIZE.limit})`,
      "requests served": served.length,
      "lost usage": lost,
      "duplicate usage records": records.length - recorded.size,
    });
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((a) => a.status === 503)).toBe(true);
    expect(slowest503).toBeLessThan(2_000);
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_BUDGET_MS);
    expect(maxInFlight).toBeLessThanOrEqual(SIZE.limit);
    expect(after.map((a) => a.status)).toEqual(Array(SIZE.limit).fill(200));
    expect(finished.every((frames) => frames.at(-1)?.event === "response.completed")).toBe(true);
    expect(lost).toBe(0);
    expect(records).toHaveLength(recorded.size);
    expect(holderRecords.filter((r) => r.outcome === Outcome.COMPLETED)).toHaveLength(2 * SIZE.limit);
  });
});
