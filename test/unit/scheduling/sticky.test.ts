import { describe, expect, it } from "vitest";
import type { AccountLoad, AccountView } from "../../../src/control-plane/domain/scheduling/account.js";
import {
  type AffinityDecision,
  type AffinityDropReason,
  bindingExpiry,
  bindingWriteAfter,
  decideAffinity,
  responsePinKey,
  stickyBindingKey,
} from "../../../src/control-plane/domain/scheduling/sticky.js";
import { account, HOUR, MINUTE, NOW, request } from "./scheduling-fixture.js";

describe("storage keys", () => {
  it.each([
    [
      "a binding is scoped by group, user and session",
      "g1",
      "u1",
      "0123456789abcdef",
      "sticky:g1:u1:0123456789abcdef",
    ],
    ["a separator inside a part is encoded", "g:1", "u1", "ff", "sticky:g%3A1:u1:ff"],
    ["no session hash means no stickiness", "g1", "u1", "", null],
  ])("%s", (_name, groupId, userId, sessionHash, expected) => {
    expect(stickyBindingKey({ groupId, userId, sessionHash })).toBe(expected);
  });

  it.each([
    ["resp_abc", "respin:resp_abc"],
    ["", null],
  ])("pins response %j under %j", (responseId, expected) => {
    expect(responsePinKey(responseId)).toBe(expected);
  });
});

describe("decideAffinity drops a binding whose account can no longer serve", () => {
  const drops: [string, AccountView | undefined, AffinityDropReason][] = [
    ["the account was deleted", undefined, "deleted"],
    ["the account was disabled", account({ status: "disabled" }), "inactive"],
    ["the account is in error", account({ status: "error" }), "inactive"],
    ["the account was made unschedulable", account({ schedulable: false }), "unschedulable"],
    ["the account expired", account({ expiresAt: NOW }), "expired"],
    ["the account is rate-limited", account({ rateLimitedUntil: NOW + 1 }), "rate_limited"],
    ["the account is overloaded", account({ overloadedUntil: NOW + 1 }), "overloaded"],
    [
      "the account is temporarily unschedulable",
      account({ tempUnschedulableUntil: NOW + 1 }),
      "temp_unschedulable",
    ],
    ["the account left the group", account({ groupIds: ["g2"] }), "other_group"],
    ["the account moved platform", account({ platform: "anthropic" }), "other_platform"],
    ["the account no longer serves the model", account({ modelMapping: { o3: "" } }), "model_not_supported"],
  ];

  it.each(drops)("when %s", (_name, bound, reason) => {
    expect(decideAffinity({ binding: { accountId: "a1" }, account: bound, request: request() })).toEqual({
      kind: "drop",
      accountId: "a1",
      reason,
    });
  });
});

describe("decideAffinity keeps a healthy binding", () => {
  const bound = account({ modelMapping: { "gpt-5*": "gpt-5-2025-08-07" } });
  const candidate = (load: AccountLoad) => ({ account: bound, upstreamModel: "gpt-5-2025-08-07", load });
  const wait = (load: AccountLoad): AffinityDecision => ({
    kind: "wait",
    candidate: candidate(load),
    plan: {
      kind: "sticky",
      accountId: "a1",
      upstreamModel: "gpt-5-2025-08-07",
      timeoutMs: 120_000,
      maxWaiting: 3,
    },
  });

  it.each([
    ["no binding: select normally", null, { inUse: 0, waiting: 0 }, { kind: "none" }],
    [
      "a free slot: use it",
      { accountId: "a1" },
      { inUse: 2, waiting: 0 },
      { kind: "use", candidate: candidate({ inUse: 2, waiting: 0 }) },
    ],
    [
      "full with nobody waiting: wait on it",
      { accountId: "a1" },
      { inUse: 3, waiting: 0 },
      wait({ inUse: 3, waiting: 0 }),
    ],
    [
      "full with 2 waiting: wait on it",
      { accountId: "a1" },
      { inUse: 3, waiting: 2 },
      wait({ inUse: 3, waiting: 2 }),
    ],
    [
      "a free slot promised to a waiter: wait on it",
      { accountId: "a1" },
      { inUse: 2, waiting: 1 },
      wait({ inUse: 2, waiting: 1 }),
    ],
    [
      "full with 3 waiting: spill over",
      { accountId: "a1" },
      { inUse: 3, waiting: 3 },
      { kind: "spill", accountId: "a1", reason: "busy" },
    ],
  ] as const)("%s", (_name, binding, load, expected) => {
    expect(decideAffinity({ binding, account: bound, load, request: request() })).toEqual(expected);
  });

  it("spills over without dropping when this request already failed on the account", () => {
    const req = request({ excludedAccountIds: new Set(["a1"]) });
    expect(decideAffinity({ binding: { accountId: "a1" }, account: bound, request: req })).toEqual({
      kind: "spill",
      accountId: "a1",
      reason: "excluded",
    });
  });

  it("uses an account whose cooldown ends exactly now", () => {
    const recovered = account({ rateLimitedUntil: NOW, tempUnschedulableUntil: NOW });
    expect(decideAffinity({ binding: { accountId: "a1" }, account: recovered, request: request() })).toEqual({
      kind: "use",
      candidate: { account: recovered, upstreamModel: "gpt-5", load: { inUse: 0, waiting: 0 } },
    });
  });

  it("follows the policy's queue length", () => {
    const policy = {
      stickyMaxWaiting: 1,
      stickyWaitTimeoutMs: 5,
      fallbackMaxWaiting: 1,
      fallbackWaitTimeoutMs: 5,
    };
    const input = {
      binding: { accountId: "a1" },
      account: bound,
      load: { inUse: 3, waiting: 1 },
      request: request(),
    };
    expect(decideAffinity(input, policy)).toEqual({ kind: "spill", accountId: "a1", reason: "busy" });
  });
});

describe("bindingWriteAfter", () => {
  const bound = { account: account(), upstreamModel: "gpt-5", load: { inUse: 0, waiting: 0 } };
  const use: AffinityDecision = { kind: "use", candidate: bound };
  const wait: AffinityDecision = {
    kind: "wait",
    candidate: bound,
    plan: { kind: "sticky", accountId: "a1", upstreamModel: "gpt-5", timeoutMs: 120_000, maxWaiting: 3 },
  };
  const set = (accountId: string) => ({ op: "set", accountId, expiresAt: NOW + HOUR });

  it.each([
    ["a hit refreshes the binding for an hour", use, "a1", set("a1")],
    ["a hit after waiting refreshes the binding", wait, "a1", set("a1")],
    ["a bound account that lost the slot race is not replaced", use, "a2", { op: "keep" }],
    [
      "a busy spill-over does not rebind",
      { kind: "spill", accountId: "a1", reason: "busy" },
      "a2",
      { op: "keep" },
    ],
    [
      "an excluded spill-over does not rebind",
      { kind: "spill", accountId: "a1", reason: "excluded" },
      "a2",
      { op: "keep" },
    ],
    ["a new session is bound to what served it", { kind: "none" }, "a2", set("a2")],
    ["a new session that got no account stores nothing", { kind: "none" }, null, { op: "keep" }],
    [
      "a dropped binding is replaced by what served",
      { kind: "drop", accountId: "a1", reason: "inactive" },
      "a2",
      set("a2"),
    ],
    [
      "a dropped binding is deleted when nothing served",
      { kind: "drop", accountId: "a1", reason: "deleted" },
      null,
      { op: "delete" },
    ],
  ] as const)("%s", (_name, decision, served, expected) => {
    expect(bindingWriteAfter(decision, served, NOW)).toEqual(expected);
  });

  it("moves the expiry on every hit", () => {
    const first = bindingWriteAfter(use, "a1", NOW);
    const second = bindingWriteAfter(use, "a1", NOW + 30 * MINUTE);
    expect([first, second]).toEqual([
      { op: "set", accountId: "a1", expiresAt: NOW + HOUR },
      { op: "set", accountId: "a1", expiresAt: NOW + 90 * MINUTE },
    ]);
  });

  it.each([
    [undefined, NOW + HOUR],
    [{ bindingTtlMs: 5 * MINUTE }, NOW + 5 * MINUTE],
  ])("expires a binding per policy %j", (policy, expected) => {
    expect(bindingExpiry(NOW, policy)).toBe(expected);
  });
});
