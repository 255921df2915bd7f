import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { statusCounts, steadyLoad } from "./support/steady-load.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, listUsage, seedTenant, waitForUsage } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";

const SCENARIO = "PostgreSQL stopped under load";
const SIZE = sized({ reduced: { clients: 4, outageMs: 8_000 }, full: { clients: 12, outageMs: 20_000 } });

describe("when PostgreSQL stops under load and comes back", () => {
  let stack: FaultStack;
  let admin: Admin;
  let dp: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({ label: "pg-outage" });
    admin = stack.adminOf();
    dp = await stack.startDataPlane();
  });
  afterAll(() => stack?.stop());

  it("keeps serving known keys, refuses unknown ones with 503, and records all usage once it is back", async () => {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, { fake, userConcurrency: SIZE.clients * 2 });
    const load = steadyLoad(dp.url, tenant.key, SIZE.clients);
    await waitFor(() => load.answers.filter((a) => a.status === 200).length >= 20, { what: "load served" });

    const downAt = Date.now();
    await stack.postgres.stop("fast");
    const unknown = await complete(
      dp.url,
      "sk-sy-0000000000000000000000000000000000000000000",
      "chat",
      requestBody("chat", false),
    );
    await until(downAt + SIZE.outageMs);
    await stack.postgres.start();
    const upAt = Date.now();
    const answers = await load.stop();

    const during = answers.filter((a) => a.sentAt >= downAt && a.answeredAt <= upAt);
    const served = answers.filter((a) => a.status === 200);
    const records = await waitForUsage(admin, tenant.userId, (r) => r.length >= served.length, 60_000);
    const flushedMs = Date.now() - upAt;
    const recorded = new Set(records.map((r) => r.requestId));
    const lost = served.filter((a) => !recorded.has(a.requestId)).length;
    const unexpected = (await listUsage(admin, tenant.userId)).length - served.length;
    recordFigures(SCENARIO, {
      "PostgreSQL down (ms)": upAt - downAt,
      "answers to the known key while down (status: count)": JSON.stringify(statusCounts(during)),
      "answer to an unknown key while down": unknown.status,
      "usage recorded, PostgreSQL back → all records in (ms)": flushedMs,
      "requests served": served.length,
      "lost usage": lost,
      "records without a served request": unexpected,
      "duplicate usage records": records.length - recorded.size,
    });
    expect(during.length).toBeGreaterThan(0);
    expect(statusCounts(during)).toEqual({ 200: during.length });
    expect(unknown.status).toBe(503);
    expect(JSON.parse(unknown.text)).toMatchObject({ error: { type: "api_error" } });
    expect(lost).toBe(0);
    expect(unexpected).toBe(0);
    expect(records).toHaveLength(recorded.size);
  });
});
