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

const SCENARIOS = { "kill -9": "Redis restarted under load", SIGSTOP: "Redis frozen under load" } as const;
const TTL_MS = 6_000;
const SIZE = sized({
  reduced: { limit: 4, clients: 6, outageMs: 4_000 },
  full: { limit: 8, clients: 16, outageMs: 10_000 },
});
/**
 * By when the control plane knows Redis stopped answering (its connections' pings: every 0.5 s, 1 s to answer);
 * a request sent from then on is refused at once, not held until Redis is back.
 */
const NOTICED_MS = 2_000;
/** From Redis listening again to the first request served (its reconnect backoff is at most 1 s). */
const RECOVERY_BUDGET_MS = 2_000;

/**
 * How Redis goes away: crashed and restarted empty (no persistence), or frozen (SIGSTOP: a stalled host, or one
 * cut off without a reset — its connections stay open and silent, and it comes back with its data, working off what
 * was sent to it meanwhile).
 */
const WAYS = ["kill -9", "SIGSTOP"] as const;

describe.each(WAYS)("when Redis goes away (%s) under load", (way) => {
  let stack: FaultStack;
  let admin: Admin;
  let dp: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({
      label: `redis-outage-${way === "kill -9" ? "kill" : "freeze"}`,
      leaseTtlMs: TTL_MS,
    });
    admin = stack.adminOf();
    dp = await stack.startDataPlane();
  });
  afterAll(() => {
    stack?.redis.thaw(); // a failure while frozen must not leave it stopped
    return stack?.stop();
  });

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
    if (way === "kill -9") await stack.redis.stop("kill");
    else stack.redis.freeze();
    await until(downAt + SIZE.outageMs);
    const restartAt = Date.now(); // Redis may serve before start() has seen it answer: "down" ends here
    // Killed: back empty (every slot, queue, lease record and sticky binding gone). Frozen: back with all of them.
    if (way === "kill -9") await stack.redis.start();
    else stack.redis.thaw();
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
    const held = answers.filter(
      (a) => a.sentAt >= downAt + NOTICED_MS && a.sentAt < restartAt - 500 && a.answeredAt > restartAt,
    );
    const slowest503 = Math.max(
      0,
      ...during.filter((a) => a.status === 503).map((a) => a.answeredAt - a.sentAt),
    );
    recordFigures(SCENARIOS[way], {
      "Redis down (ms)": restartAt - downAt,
      "answers while down (status: count)": JSON.stringify(statusCounts(during)),
      "slowest 503 while down (ms)": slowest503,
      "requests sent while down and held until Redis was back": held.length,
      "recovery, Redis listening → first request served (ms)": recoveryMs,
      "max concurrent upstream streams of the limited user after recovery (limit)": `${maxInFlight} (${SIZE.limit})`,
      "requests served": served.length,
      "lost usage": lost,
      "duplicate usage records": records.length - recorded.size,
    });
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((a) => a.status === 503)).toBe(true);
    expect(slowest503).toBeLessThan(2_000);
    expect(held).toEqual([]);
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_BUDGET_MS);
    expect(maxInFlight).toBeLessThanOrEqual(SIZE.limit);
    expect(after.map((a) => a.status)).toEqual(Array(SIZE.limit).fill(200));
    expect(finished.every((frames) => frames.at(-1)?.event === "response.completed")).toBe(true);
    expect(lost).toBe(0);
    expect(records).toHaveLength(recorded.size);
    expect(holderRecords.filter((r) => r.outcome === Outcome.COMPLETED)).toHaveLength(2 * SIZE.limit);
  });
});
