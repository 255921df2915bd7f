import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { statusCounts, steadyLoad } from "./support/steady-load.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, listUsage, seedTenant, waitForUsage } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";

/**
 * How PostgreSQL goes away: a fast shutdown (its clients see their connections closed), or frozen (SIGSTOP to the
 * postmaster and every backend: a stalled or cut-off host — connections stay open and nothing answers).
 */
const WAYS = ["stopped", "frozen"] as const;
const SCENARIOS = {
  stopped: "PostgreSQL stopped under load",
  frozen: "PostgreSQL frozen under load",
} as const;
/** The full outage outlasts the key records' 30 s refresh: they are read again while the database is away. */
const SIZE = sized({ reduced: { clients: 4, outageMs: 8_000 }, full: { clients: 12, outageMs: 40_000 } });
/** The longest a request may wait on a database that does not answer (the key lookup's bound is 2 s). */
const SLOWEST_ANSWER_MS = 5_000;

describe.each(WAYS)("when PostgreSQL goes away (%s) under load and comes back", (way) => {
  let stack: FaultStack;
  let admin: Admin;
  let dp: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({ label: `pg-outage-${way}` });
    admin = stack.adminOf();
    dp = await stack.startDataPlane();
  });
  afterAll(() => {
    stack?.postgres.thaw(); // a failure while frozen must not leave it stopped
    return stack?.stop();
  });

  it("keeps serving known keys, refuses unknown ones with 503, and records all usage once it is back", async () => {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, { fake, userConcurrency: SIZE.clients * 2 });
    // A known key whose first account will fail while the database is away: the failover penalises the account,
    // a write the request must not wait on.
    const failing = await seedTenant(admin, { fake, accounts: [{ priority: 1 }, { priority: 2 }] });
    expect((await complete(dp.url, failing.key, "chat")).status).toBe(200);
    const load = steadyLoad(dp.url, tenant.key, SIZE.clients);
    await waitFor(() => load.answers.filter((a) => a.status === 200).length >= 20, { what: "load served" });

    const downAt = Date.now();
    if (way === "stopped") await stack.postgres.stop("fast");
    else stack.postgres.freeze();
    const askedAt = Date.now();
    const unknown = await complete(
      dp.url,
      "sk-sy-0000000000000000000000000000000000000000000",
      "chat",
      requestBody("chat", false),
    );
    const unknownMs = Date.now() - askedAt;
    fake.script({ match: { apiKey: failing.accounts[0]?.credential }, status: 500, times: 1 });
    const failoverAskedAt = Date.now();
    const failedOver = await complete(dp.url, failing.key, "chat");
    const failoverMs = Date.now() - failoverAskedAt;
    await until(downAt + SIZE.outageMs);
    if (way === "stopped") await stack.postgres.start();
    else stack.postgres.thaw();
    const upAt = Date.now();
    const answers = await load.stop();

    const during = answers.filter((a) => a.sentAt >= downAt && a.answeredAt <= upAt);
    // Sent while it was away and answered only after it came back: held by it.
    const held = answers.filter(
      (a) => a.sentAt >= downAt && a.sentAt < upAt - SLOWEST_ANSWER_MS && a.answeredAt > upAt,
    );
    const served = answers.filter((a) => a.status === 200);
    const records = await waitForUsage(admin, tenant.userId, (r) => r.length >= served.length, 60_000);
    const flushedMs = Date.now() - upAt;
    const recorded = new Set(records.map((r) => r.requestId));
    const lost = served.filter((a) => !recorded.has(a.requestId)).length;
    const unexpected = (await listUsage(admin, tenant.userId)).length - served.length;
    recordFigures(SCENARIOS[way], {
      "PostgreSQL down (ms)": upAt - downAt,
      "answers to the known key while down (status: count)": JSON.stringify(statusCounts(during)),
      "answer to an unknown key while down": unknown.status,
      "answer to an unknown key while down (ms)": unknownMs,
      "requests sent while down and held until it was back": held.length,
      "a request failed over while down (status, ms)": `${failedOver.status}, ${failoverMs}`,
      "usage recorded, PostgreSQL back → all records in (ms)": flushedMs,
      "requests served": served.length,
      "lost usage": lost,
      "records without a served request": unexpected,
      "duplicate usage records": records.length - recorded.size,
    });
    expect(during.length).toBeGreaterThan(0);
    expect(statusCounts(during)).toEqual({ 200: during.length });
    expect(unknown.status).toBe(503);
    expect(unknownMs).toBeLessThan(SLOWEST_ANSWER_MS);
    expect(held).toEqual([]);
    expect(failedOver.status).toBe(200);
    expect(failoverMs).toBeLessThan(SLOWEST_ANSWER_MS);
    expect(JSON.parse(unknown.text)).toMatchObject({ error: { type: "api_error" } });
    expect(lost).toBe(0);
    expect(unexpected).toBe(0);
    expect(records).toHaveLength(recorded.size);
  });
});
