import { describe, expect, it } from "vitest";
import {
  type AccountPlan,
  type ApiKeyPlan,
  type ChatGptAccountPlan,
  planImport,
} from "../../../src/cli/import/sub2api-plan.js";
import type { Sub2apiAccount, Sub2apiData } from "../../../src/cli/import/sub2api-source.js";
import { hashApiKey } from "../../../src/shared/api-key.js";
import { fakeJwt } from "../../support/fake-chatgpt/tokens.js";

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

/** An oauth account of platform openai in group 1, with these credentials. */
function oauthAccount(id: number, name: string, credentials: unknown): Sub2apiAccount {
  return {
    id,
    name,
    platform: "openai",
    type: "oauth",
    credentials,
    proxy_id: null,
    concurrency: 2,
    priority: 30,
    rate_multiplier: "1",
    schedulable: true,
    status: "active",
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

  it("carries a ChatGPT (oauth) account with its tokens; lists what it cannot carry, never a token", () => {
    const EXP = Math.floor(NOW / 1000) + 864_000;
    const access = fakeJwt({
      exp: EXP,
      "https://api.openai.com/auth": { chatgpt_account_id: "acct-claims" },
    });
    const opaque = "at-opaque-0123456789";
    const plan = planImport(
      data({
        accounts: [
          oauthAccount(1, "plus", {
            access_token: access,
            refresh_token: "rt-plus-secret",
            expires_at: "2026-03-12T10:00:00Z",
            model_mapping: { "gpt-5": "gpt-5.1" },
            client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
          }),
          oauthAccount(
            2,
            "team",
            JSON.stringify({
              access_token: opaque,
              refresh_token: "rt-team-secret",
              chatgpt_account_id: "acct-team",
              expires_at: 1_773_309_600,
              client_id: "app_other",
              email: "t@x.io",
              plan_type: "team",
            }),
          ),
          oauthAccount(3, "no-refresh", { access_token: access }),
          oauthAccount(4, "no-account-id", { access_token: opaque, refresh_token: "rt-4-secret" }),
          oauthAccount(5, "no-group", { access_token: access, refresh_token: "rt-5-secret" }),
        ],
        accountGroups: [1, 2, 3, 4].map((id) => ({ account_id: id, group_id: 1, priority: 30 })),
      }),
      NOW,
    );
    const accounts = plan.steps.filter((s): s is ChatGptAccountPlan => s.kind === "chatgpt account");
    expect(accounts).toEqual([
      {
        kind: "chatgpt account",
        name: "plus",
        accessToken: access,
        refreshToken: "rt-plus-secret",
        idToken: "",
        chatgptAccountId: "acct-claims",
        proxyUrl: "",
        concurrency: 2,
        priority: 30,
        modelMapping: { "gpt-5": "gpt-5.1" },
        groupNames: ["g"],
        disabled: false,
        schedulable: true,
      },
      expect.objectContaining({ name: "team", accessToken: opaque, chatgptAccountId: "acct-team" }),
    ]);
    expect(plan.notCarried).toEqual([
      {
        kind: "chatgpt account",
        name: "no-refresh",
        reason: "no refresh_token in its credentials (Switchyard refreshes the tokens itself)",
      },
      {
        kind: "chatgpt account",
        name: "no-account-id",
        reason: "no chatgpt_account_id in its credentials or its tokens' claims",
      },
      { kind: "chatgpt account", name: "no-group", reason: "it serves no carried group" },
    ]);
    expect(plan.partial).toEqual([
      {
        kind: "chatgpt account",
        name: "team",
        reason:
          "expires_at 2026-03-12T10:00:00.000Z not carried: the access token has no exp claim (refreshed on its first 401)",
      },
      {
        kind: "chatgpt account",
        name: "team",
        reason:
          "client_id not carried: Switchyard refreshes as Codex CLI's client, which may refuse this token",
      },
      { kind: "chatgpt account", name: "team", reason: "credentials email, plan_type not carried" },
    ]);
    const reported = JSON.stringify([plan.notCarried, plan.partial]);
    for (const secret of [access, opaque, "rt-plus-secret", "rt-team-secret", "rt-4-secret", "rt-5-secret"])
      expect(reported).not.toContain(secret);
  });

  it("lists oauth accounts of other platforms and other account types as accounts not carried", () => {
    const plan = planImport(
      data({
        accounts: [
          { ...oauthAccount(1, "claude-oauth", {}), platform: "anthropic" },
          { ...oauthAccount(2, "vertex", {}), type: "service_account" },
        ],
      }),
      NOW,
    );
    expect(plan.notCarried).toEqual([
      { kind: "account", name: "claude-oauth", reason: "platform anthropic is not served by Switchyard" },
      { kind: "account", name: "vertex", reason: "account type service_account is not served" },
    ]);
  });
});
