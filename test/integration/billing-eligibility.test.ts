import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOfDay } from "../../src/control-plane/domain/catalog/billing-windows.js";
import type { LeaseChannel, OperationInit } from "../../src/data-plane/control/lease-channel.js";
import { BillingMode } from "../../src/gen/switchyard/v1/admin_pb.js";
import { Endpoint, Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../src/shared/api-key.js";
import { ManualClock } from "../../src/shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { newRequestId } from "../../src/shared/ids.js";
import { dataPlaneChannel, seedTenant, startTestControlPlane } from "../support/control-plane.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;

const DAY = 86_400_000;
/** 23:00 UTC: an hour before the billing day (UTC, the default timezone) ends. */
const START = Date.parse("2026-03-10T23:00:00Z");
/** $10 per 1M input tokens: a 1,000-token request costs $0.01. */
const PRICE = { model: "gpt-4o", inputUsdPerMtok: "10", cachedInputUsdPerMtok: "0", outputUsdPerMtok: "0" };

/** What an admit was refused with, or null when it was admitted (its lease released at once). */
type Refusal = { code: ErrorCode; message: string } | null;

describe("billing eligibility at admit, through the gateway with a manual clock", () => {
  let cp: ControlPlane;
  let dp: LeaseChannel;
  const clock = new ManualClock(START);

  beforeAll(async () => {
    // Long lease TTLs: Redis times slots by its own clock, which the manual clock does not move.
    cp = await startTestControlPlane("billing_eligibility", { leaseTtlMs: 120_000, overrides: { clock } });
    dp = dataPlaneChannel(cp.url, "dp-billing");
    await dp.waitConnected(5_000);
    await cp.admin.setModelPrice({ price: PRICE });
  });
  afterAll(async () => {
    await dp?.close();
    await cp?.stop();
  });

  const admitOf = (key: string) =>
    ({
      requestId: newRequestId(),
      keySha256: hashApiKey(key),
      model: "gpt-4o",
      stream: true,
      endpoint: Endpoint.RESPONSES,
    }) satisfies OperationInit<"admit">;

  /** Admits a request, releases it and reports 1,000 input tokens ($0.01) for it, started now on the manual clock. */
  async function spendOneCent(key: string): Promise<void> {
    const admit = admitOf(key);
    const { lease } = await dp.call("admit", admit, { timeoutMs: 5_000 });
    if (!lease) throw new Error("no lease");
    await dp.call(
      "release",
      { leaseId: lease.leaseId, outcome: Outcome.COMPLETED, upstreamStatus: 200 },
      { timeoutMs: 5_000 },
    );
    const { recorded } = await dp.call(
      "reportUsage",
      {
        records: [
          {
            requestId: admit.requestId,
            leaseId: lease.leaseId,
            principal: lease.principal,
            accountId: lease.target?.accountId ?? "",
            requestedModel: "gpt-4o",
            upstreamModel: "gpt-4o",
            endpoint: Endpoint.RESPONSES,
            stream: true,
            tokens: { inputTokens: 1_000 },
            outcome: Outcome.COMPLETED,
            statusCode: 200,
            startedAtMs: BigInt(clock.now()),
          },
        ],
      },
      { timeoutMs: 5_000 },
    );
    expect(recorded).toBe(1);
  }

  async function tryAdmit(key: string): Promise<Refusal> {
    try {
      const { lease } = await dp.call("admit", admitOf(key), { timeoutMs: 5_000 });
      await dp.call(
        "release",
        { leaseId: lease?.leaseId ?? "", outcome: Outcome.COMPLETED, upstreamStatus: 200 },
        { timeoutMs: 5_000 },
      );
      return null;
    } catch (err) {
      if (err instanceof SwitchyardError) return { code: err.code, message: err.message };
      throw err;
    }
  }

  it("refuses a user whose balance ran out on the very next admit", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "0.015" });
    await spendOneCent(tenant.key); // $0.005 left: still admitted
    expect(await tryAdmit(tenant.key)).toBeNull();
    await spendOneCent(tenant.key); // -$0.005
    expect(await tryAdmit(tenant.key)).toEqual({
      code: ErrorCode.INSUFFICIENT_BALANCE,
      message: "Insufficient balance",
    });
    expect((await cp.admin.getUser({ id: tenant.user.id })).user?.balanceUsd).toBe("-0.005");
  });

  it("refuses a key past its quota on the next admit, while the user's other key still works", async () => {
    const tenant = await seedTenant(cp.admin);
    await cp.admin.updateApiKey({ id: tenant.keyId, quotaUsd: "0.01" });
    const other = await cp.admin.createApiKey({ userId: tenant.user.id, groupId: tenant.group.id });
    expect(await tryAdmit(tenant.key)).toBeNull();
    await spendOneCent(tenant.key);
    expect(await tryAdmit(tenant.key)).toEqual({
      code: ErrorCode.KEY_QUOTA_EXCEEDED,
      message: "API key quota exceeded",
    });
    expect(await tryAdmit(other.key)).toBeNull();
  });

  it("refuses a subscriber over the daily limit, admits again once the billing day rolls over, and still counts the day before in the week", async () => {
    const { user } = await cp.admin.createUser({ name: "subscriber", balanceUsd: "0", concurrency: 5 });
    const { group } = await cp.admin.createGroup({
      name: "plus",
      billingMode: BillingMode.SUBSCRIPTION,
      dailyLimitUsd: "0.02",
      weeklyLimitUsd: "0.03",
    });
    const userId = user?.id ?? "";
    const groupId = group?.id ?? "";
    await cp.admin.createAccount({
      name: "plus-account",
      baseUrl: "http://127.0.0.1:9",
      credential: "sk-upstream-plus",
      concurrency: 3,
      groupIds: [groupId],
    });
    const { key } = await cp.admin.createApiKey({ userId, groupId });
    expect((await tryAdmit(key))?.code).toBe(ErrorCode.SUBSCRIPTION_REQUIRED);
    const { subscription } = await cp.admin.createSubscription({
      userId,
      groupId,
      expireTime: timestampFromMs(clock.now() + 30 * DAY),
    });

    await spendOneCent(key); // $0.01 of $0.02 today, at zero balance
    expect(await tryAdmit(key)).toBeNull();
    await spendOneCent(key);
    const over = { code: ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED, message: "Daily usage limit exceeded" };
    expect(await tryAdmit(key)).toEqual(over);

    const nextDay = startOfDay(clock.now(), "UTC") + DAY;
    clock.set(nextDay - 1);
    expect(await tryAdmit(key)).toEqual(over); // the last millisecond of the day, after the 1 s cache lapsed
    clock.set(nextDay);
    expect(await tryAdmit(key)).toBeNull(); // the cached record's day has ended
    clock.advance(1_000);
    expect(await tryAdmit(key)).toBeNull(); // looked up afresh: nothing used today

    await spendOneCent(key); // $0.01 today, $0.03 of $0.03 this week
    expect(await tryAdmit(key)).toEqual({
      code: ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED,
      message: "Weekly usage limit exceeded",
    });
    const { subscription: after } = await cp.admin.getSubscription({ id: subscription?.id ?? "" });
    expect([after?.dailyUsedUsd, after?.weeklyUsedUsd]).toEqual(["0.01", "0.03"]);
  });
});
