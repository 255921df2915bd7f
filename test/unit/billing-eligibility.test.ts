import { describe, expect, it } from "vitest";
import { type KeyRecord, NO_KEY_CONTROLS } from "../../src/control-plane/domain/admission/directory.js";
import { assertEligible } from "../../src/control-plane/domain/admission/eligibility.js";
import { NO_LIMITS, NO_USAGE } from "../../src/control-plane/domain/billing/subscription-limits.js";
import { ErrorCode, SwitchyardError, toOpenAIError } from "../../src/shared/errors.js";
import { parseUsd } from "../../src/shared/money.js";

const NOW = Date.parse("2026-03-11T02:00:00Z");
/** The end of the billing day the usage below was measured in. */
const DAY_ENDS_AT = Date.parse("2026-03-12T00:00:00Z");
const usd = parseUsd;

const balanceKey: KeyRecord = {
  keyId: "k1",
  keyStatus: "active",
  expiresAt: null,
  quotaUsd: null,
  quotaUsedUsd: 0n,
  userId: "u1",
  userStatus: "active",
  userConcurrency: 5,
  balanceUsd: usd("1"),
  groupId: "g1",
  billingMode: "balance",
  limitsUsd: NO_LIMITS,
  subscription: null,
  controls: NO_KEY_CONTROLS,
};

const subscriptionKey: KeyRecord = {
  ...balanceKey,
  balanceUsd: 0n,
  billingMode: "subscription",
  limitsUsd: { daily: usd("1"), weekly: usd("5"), monthly: usd("20") },
  subscription: {
    id: "s1",
    expiresAt: NOW + 30 * 86_400_000,
    usageUsd: { daily: usd("0.5"), weekly: usd("2"), monthly: usd("2") },
    dayEndsAt: DAY_ENDS_AT,
  },
};

const withUsage = (daily: string, weekly: string, monthly: string): KeyRecord => ({
  ...subscriptionKey,
  subscription: {
    id: "s1",
    expiresAt: NOW + 30 * 86_400_000,
    usageUsd: { daily: usd(daily), weekly: usd(weekly), monthly: usd(monthly) },
    dayEndsAt: DAY_ENDS_AT,
  },
});

function refusal(key: KeyRecord, now: number): { code: ErrorCode; message: string } | null {
  try {
    assertEligible(key, now);
    return null;
  } catch (err) {
    if (!(err instanceof SwitchyardError)) throw err;
    return { code: err.code, message: err.message };
  }
}

describe("eligibility of a key to start a request", () => {
  const cases: Array<{ name: string; key: KeyRecord; code: ErrorCode | null; message?: string }> = [
    { name: "a balance key with money", key: balanceKey, code: null },
    {
      name: "a disabled key",
      key: { ...balanceKey, keyStatus: "disabled" },
      code: ErrorCode.API_KEY_DISABLED,
    },
    { name: "a revoked key", key: { ...balanceKey, keyStatus: "revoked" }, code: ErrorCode.API_KEY_DISABLED },
    {
      name: "a key expired at this instant",
      key: { ...balanceKey, expiresAt: NOW },
      code: ErrorCode.API_KEY_EXPIRED,
      message: "API key expired",
    },
    { name: "a key expiring later", key: { ...balanceKey, expiresAt: NOW + 1 }, code: null },
    {
      name: "a disabled user",
      key: { ...balanceKey, userStatus: "disabled" },
      code: ErrorCode.USER_DISABLED,
    },
    {
      name: "a key whose quota is used up exactly",
      key: { ...balanceKey, quotaUsd: usd("2"), quotaUsedUsd: usd("2") },
      code: ErrorCode.KEY_QUOTA_EXCEEDED,
    },
    {
      name: "a key with quota left",
      key: { ...balanceKey, quotaUsd: usd("2"), quotaUsedUsd: usd("1.99") },
      code: null,
    },
    {
      name: "a user at zero balance",
      key: { ...balanceKey, balanceUsd: 0n },
      code: ErrorCode.INSUFFICIENT_BALANCE,
      message: "Insufficient balance",
    },
    {
      name: "a user in debt",
      key: { ...balanceKey, balanceUsd: usd("-0.01") },
      code: ErrorCode.INSUFFICIENT_BALANCE,
    },
    {
      name: "a quota refusal before a balance refusal",
      key: { ...balanceKey, balanceUsd: 0n, quotaUsd: 0n },
      code: ErrorCode.KEY_QUOTA_EXCEEDED,
    },
    { name: "a subscriber under every limit, at zero balance", key: subscriptionKey, code: null },
    {
      name: "a subscription group without a subscription",
      key: { ...subscriptionKey, subscription: null },
      code: ErrorCode.SUBSCRIPTION_REQUIRED,
    },
    {
      name: "a subscription that expired since the lookup",
      key: {
        ...subscriptionKey,
        subscription: { id: "s1", expiresAt: NOW, usageUsd: NO_USAGE, dayEndsAt: DAY_ENDS_AT },
      },
      code: ErrorCode.SUBSCRIPTION_REQUIRED,
    },
    {
      name: "a subscriber at the daily limit",
      key: withUsage("1", "2", "2"),
      code: ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED,
      message: "Daily usage limit exceeded",
    },
    {
      name: "a subscriber over the weekly limit",
      key: withUsage("0", "5.000001", "6"),
      code: ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED,
      message: "Weekly usage limit exceeded",
    },
    {
      name: "a subscriber over the daily and monthly limits (named by the one that frees up last)",
      key: withUsage("1", "4", "20"),
      code: ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED,
      message: "Monthly usage limit exceeded",
    },
    {
      name: "a subscriber of a group without limits",
      key: { ...withUsage("100", "100", "100"), limitsUsd: NO_LIMITS },
      code: null,
    },
    {
      name: "a balance key ignores subscription fields",
      key: { ...balanceKey, limitsUsd: subscriptionKey.limitsUsd },
      code: null,
    },
  ];
  it.each(cases)("$name", ({ key, code, message }) => {
    const got = refusal(key, NOW);
    expect(got?.code ?? null).toBe(code);
    if (message !== undefined) expect(got?.message).toBe(message);
  });

  it("stops counting a cached record's daily usage when its billing day ends, but not its weekly usage", () => {
    const overDaily = withUsage("1", "2", "2");
    expect(refusal(overDaily, DAY_ENDS_AT - 1)?.message).toBe("Daily usage limit exceeded");
    expect(refusal(overDaily, DAY_ENDS_AT)).toBeNull();
    const overBoth = withUsage("1", "5", "5");
    expect(refusal(overBoth, DAY_ENDS_AT)?.message).toBe("Weekly usage limit exceeded");
  });

  it("answers each billing refusal with its OpenAI status and type", () => {
    const shapes = [
      [balanceKey, { balanceUsd: 0n }],
      [balanceKey, { quotaUsd: 0n }],
      [subscriptionKey, { subscription: null }],
      [withUsage("1", "1", "1"), {}],
    ] as const;
    const answers = shapes.map(([base, change]) => {
      try {
        assertEligible({ ...base, ...change }, NOW);
        return null;
      } catch (err) {
        const http = toOpenAIError(err);
        return [http.status, http.body.error.type, http.body.error.code, http.body.error.message];
      }
    });
    expect(answers).toEqual([
      [403, "insufficient_quota", "insufficient_balance", "Insufficient balance"],
      [429, "insufficient_quota", "insufficient_quota", "API key quota exceeded"],
      [403, "insufficient_quota", "subscription_required", "No active subscription for this group"],
      [429, "insufficient_quota", "usage_limit_exceeded", "Daily usage limit exceeded"],
    ]);
  });
});
