import { describe, expect, it } from "vitest";
import { type AccountPlan, type ApiKeyPlan, planImport } from "../../../src/cli/import/sub2api-plan.js";
import type { Sub2apiData } from "../../../src/cli/import/sub2api-source.js";
import { hashApiKey } from "../../../src/shared/api-key.js";

const NOW = Date.parse("2026-03-02T10:00:00Z");
const KEY = `sk-${"ab".repeat(32)}`;

function data(overrides: Partial<Sub2apiData> = {}): Sub2apiData {
  return {
    users: [
      {
        id: 1,
        email: "a@x.io",
        username: "",
        role: "user",
        status: "active",
        balance: "3.1234567",
        frozen_balance: "0",
        concurrency: 2,
        rpm_limit: 60,
      },
    ],
    groups: [
      {
        id: 1,
        name: "g",
        description: null,
        platform: "openai",
        status: "active",
        rate_multiplier: "1.25",
        subscription_type: "standard",
        daily_limit_usd: "0",
        weekly_limit_usd: null,
        monthly_limit_usd: "100",
      },
    ],
    apiKeys: [],
    accounts: [],
    accountGroups: [],
    proxies: [],
    subscriptions: [],
    rules: [],
    ...overrides,
  };
}

describe("planning an import from sub2api", () => {
  it("names a user by email without a username, and keeps money to 6 decimals", () => {
    const plan = planImport(data(), NOW);
    expect(plan.steps).toEqual([
      { kind: "user", name: "a@x.io", balanceUsd: "3.123457", concurrency: 2, rpmLimit: 60, disabled: false },
      {
        kind: "group",
        name: "g",
        description: "",
        rateMultiplier: "1.25",
        subscription: false,
        dailyLimitUsd: "",
        weeklyLimitUsd: "",
        monthlyLimitUsd: "100",
      },
    ]);
  });

  it("carries an API-key account with its proxy (credentials encoded) and mapping given as JSON text", () => {
    const plan = planImport(
      data({
        accounts: [
          {
            id: 7,
            name: "acc",
            platform: "openai",
            type: "apikey",
            credentials: '{"api_key":" sk-up ","model_mapping":{"a":"b","n":1}}',
            proxy_id: 3,
            concurrency: 4,
            priority: 20,
            rate_multiplier: "2",
            schedulable: false,
            status: "error",
          },
        ],
        accountGroups: [{ account_id: 7, group_id: 1, priority: 5 }],
        proxies: [
          { id: 3, protocol: "socks5h", host: "10.0.0.1", port: 1080, username: "u@x", password: "p:w" },
        ],
      }),
      NOW,
    );
    const account = plan.steps.find((s): s is AccountPlan => s.kind === "account");
    expect(account).toMatchObject({
      credential: "sk-up",
      baseUrl: "https://api.openai.com",
      proxyUrl: "socks5h://u%40x:p%3Aw@10.0.0.1:1080",
      modelMapping: { a: "b" },
      groupNames: ["g"],
      priority: 20,
      disabled: true,
      schedulable: false,
    });
    expect(plan.partial.map((p) => p.reason)).toEqual([
      "priority 5 in group g not carried (the account's own 20 applies)",
      "rate_multiplier 2 not carried",
    ]);
  });

  it("carries keys as hashes with their controls; lists what it cannot carry", () => {
    const plan = planImport(
      data({
        apiKeys: [
          {
            id: 1,
            user_id: 1,
            key: KEY,
            name: "k",
            group_id: 1,
            status: "quota_exhausted",
            expires_at: null,
            ip_whitelist: ["10.0.0.0/8"],
            ip_blacklist: "[]",
            quota: "5",
            quota_used: "5",
            rate_limit_5h: "1",
            rate_limit_1d: "0",
            rate_limit_7d: null,
          },
          {
            id: 2,
            user_id: 9,
            key: `${KEY}x`,
            name: null,
            group_id: 1,
            status: "active",
            expires_at: null,
            ip_whitelist: null,
            ip_blacklist: null,
            quota: 0,
            quota_used: 0,
            rate_limit_5h: 0,
            rate_limit_1d: 0,
            rate_limit_7d: 0,
          },
        ],
        subscriptions: [
          {
            user_id: 1,
            group_id: 1,
            starts_at: new Date(NOW - 1),
            expires_at: new Date(NOW - 1),
            status: "active",
          },
        ],
        rules: [
          {
            name: "r",
            enabled: null,
            priority: null,
            error_codes: [529],
            keywords: [],
            match_mode: "all",
            platforms: ["openai", "gemini"],
            passthrough_code: false,
            response_code: 503,
            passthrough_body: true,
            custom_message: null,
            skip_monitoring: null,
          },
        ],
      }),
      NOW,
    );
    const key = plan.steps.find((s): s is ApiKeyPlan => s.kind === "api key");
    expect(key).toMatchObject({
      keySha256: hashApiKey(KEY),
      prefix: KEY.slice(0, 10),
      disabled: false,
      quotaUsd: "5",
      quotaUsedUsd: "5",
      ipAllow: ["10.0.0.0/8"],
      ipDeny: [],
      spendLimit5hUsd: "1",
      spendLimit1dUsd: "",
    });
    expect(JSON.stringify(plan)).not.toContain(KEY);
    expect(plan.notCarried).toEqual([
      { kind: "api key", name: `${KEY.slice(0, 10)}…`, reason: "its user is not carried" },
      { kind: "subscription", name: "a@x.io → g", reason: "already expired" },
    ]);
    expect(plan.steps.find((s) => s.kind === "rule")).toMatchObject({
      platforms: ["openai"],
      matchAll: true,
      enabled: true,
    });
    expect(plan.partial).toContainEqual({
      kind: "rule",
      name: "r",
      reason: "platforms other than openai dropped",
    });
  });
});
