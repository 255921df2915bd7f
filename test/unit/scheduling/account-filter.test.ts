import { describe, expect, it } from "vitest";
import type { AccountView } from "../../../src/control-plane/domain/scheduling/account.js";
import {
  type AccountRejection,
  filterAccounts,
  rejectionOf,
} from "../../../src/control-plane/domain/scheduling/account-filter.js";
import { account, NOW, request } from "./scheduling-fixture.js";

describe("rejectionOf, one row per selection filter", () => {
  const cases: [string, Partial<AccountView>, ReadonlySet<string>, AccountRejection | null][] = [
    ["an active schedulable account in the group is accepted", {}, new Set(), null],
    ["an account outside the request's group", { groupIds: ["g2"] }, new Set(), "other_group"],
    ["an account on another platform", { platform: "anthropic" }, new Set(), "other_platform"],
    [
      "an account whose mapping lacks the model",
      { modelMapping: { o3: "" } },
      new Set(),
      "model_not_supported",
    ],
    ["a disabled account", { status: "disabled" }, new Set(), "inactive"],
    ["an account in error", { status: "error" }, new Set(), "inactive"],
    ["an unschedulable account", { schedulable: false }, new Set(), "unschedulable"],
    ["an account expiring exactly now", { expiresAt: NOW }, new Set(), "expired"],
    ["an account expiring a millisecond from now is accepted", { expiresAt: NOW + 1 }, new Set(), null],
    ["a rate-limited account", { rateLimitedUntil: NOW + 1 }, new Set(), "rate_limited"],
    ["a rate limit ending exactly now is over", { rateLimitedUntil: NOW }, new Set(), null],
    ["an overloaded account", { overloadedUntil: NOW + 1 }, new Set(), "overloaded"],
    ["an overload ending exactly now is over", { overloadedUntil: NOW }, new Set(), null],
    [
      "a temporarily unschedulable account",
      { tempUnschedulableUntil: NOW + 1 },
      new Set(),
      "temp_unschedulable",
    ],
    ["a temporary block ending exactly now is over", { tempUnschedulableUntil: NOW }, new Set(), null],
    ["an account this request already failed on", {}, new Set(["a1"]), "excluded"],
    [
      "configuration is reported before state",
      { groupIds: ["g2"], status: "disabled" },
      new Set(),
      "other_group",
    ],
    ["state is reported before exclusion", { rateLimitedUntil: NOW + 1 }, new Set(["a1"]), "rate_limited"],
  ];

  it.each(cases)("%s", (_name, overrides, excludedAccountIds, expected) => {
    expect(rejectionOf(account(overrides), request({ excludedAccountIds }))).toBe(expected);
  });
});

describe("filterAccounts", () => {
  it("returns the candidates with their upstream model, in input order", () => {
    const accounts = [
      account({ id: "a1", modelMapping: { "gpt-5*": "gpt-5-2025-08-07" } }),
      account({ id: "a2", status: "disabled" }),
      account({ id: "a3" }),
    ];
    expect(filterAccounts(accounts, request())).toEqual({
      ok: true,
      candidates: [
        { account: accounts[0], upstreamModel: "gpt-5-2025-08-07" },
        { account: accounts[2], upstreamModel: "gpt-5" },
      ],
    });
  });

  const none: [string, AccountView[], ReadonlySet<string>, string][] = [
    ["no account at all means the model is not supported", [], new Set(), "model_not_supported"],
    [
      "accounts that cannot serve the model mean it is not supported",
      [account({ modelMapping: { o3: "" } }), account({ id: "a2", groupIds: ["g2"] })],
      new Set(),
      "model_not_supported",
    ],
    [
      "a serving account that is disabled means none is available, not an unknown model",
      [account({ status: "disabled" })],
      new Set(),
      "none_available",
    ],
    [
      "serving accounts that are all cooling down mean none is available",
      [account({ rateLimitedUntil: NOW + 1 }), account({ id: "a2", overloadedUntil: NOW + 1 })],
      new Set(),
      "none_available",
    ],
    [
      "every eligible account excluded by earlier failures",
      [account(), account({ id: "a2" })],
      new Set(["a1", "a2"]),
      "all_excluded",
    ],
    [
      "an excluded account and a cooling one: the request exhausted what it could use",
      [account(), account({ id: "a2", tempUnschedulableUntil: NOW + 1 })],
      new Set(["a1"]),
      "all_excluded",
    ],
  ];

  it.each(none)("%s", (_name, accounts, excludedAccountIds, reason) => {
    expect(filterAccounts(accounts, request({ excludedAccountIds }))).toEqual({ ok: false, reason });
  });

  it("keeps the accounts not excluded when only some are", () => {
    const accounts = [account(), account({ id: "a2" })];
    expect(filterAccounts(accounts, request({ excludedAccountIds: new Set(["a1"]) }))).toEqual({
      ok: true,
      candidates: [{ account: accounts[1], upstreamModel: "gpt-5" }],
    });
  });
});
