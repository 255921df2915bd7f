import { describe, expect, it } from "vitest";
import type { AccountLoad, AccountView } from "../../../src/control-plane/domain/scheduling/account.js";
import type { NoCandidateReason } from "../../../src/control-plane/domain/scheduling/account-filter.js";
import {
  noCandidateError,
  planSelection,
  type SelectionInput,
  type SelectionPlan,
} from "../../../src/control-plane/domain/scheduling/selection-plan.js";
import { bindingWriteAfter } from "../../../src/control-plane/domain/scheduling/sticky.js";
import { ErrorCode } from "../../../src/shared/errors.js";
import { account, HOUR, NOW, request, sequenceRandom } from "./scheduling-fixture.js";

/** Three idle accounts; `a` has the best priority, `c` the worst. */
const pool: AccountView[] = [
  account({ id: "a", priority: 10 }),
  account({ id: "b", priority: 20 }),
  account({ id: "c", priority: 30 }),
];

function input(
  overrides: Partial<SelectionInput> & { load?: Record<string, AccountLoad> } = {},
): SelectionInput {
  const { load = {}, ...rest } = overrides;
  return {
    request: request(),
    accounts: pool,
    loads: new Map(Object.entries(load)),
    pin: null,
    binding: null,
    random: sequenceRandom(Array.from({ length: 8 }, () => 0.5)),
    ...rest,
  };
}

type Acquire = Extract<SelectionPlan, { kind: "acquire" }>;

function acquire(plan: SelectionPlan): Acquire {
  if (plan.kind !== "acquire") throw new Error(`expected an acquire plan, got ${plan.kind}`);
  return plan;
}

const order = (plan: SelectionPlan) =>
  acquire(plan).attempts.map((a) => `${a.accountId}${a.sticky ? "*" : ""}`);
const FULL = { inUse: 3, waiting: 0 };

describe("planSelection", () => {
  it.each([
    ["no binding: load-aware order", {}, ["a", "b", "c"]],
    ["a healthy free binding is tried first", { binding: { accountId: "c" } }, ["c*", "a", "b"]],
    ["a dropped binding falls back to load-aware order", { binding: { accountId: "gone" } }, ["a", "b", "c"]],
    [
      "a busy binding with a long queue spills over to the others",
      { binding: { accountId: "a" }, load: { a: { inUse: 3, waiting: 3 } } },
      ["b", "c"],
    ],
    [
      "a binding this request failed on is skipped",
      { binding: { accountId: "a" }, request: request({ excludedAccountIds: new Set(["a"]) }) },
      ["b", "c"],
    ],
    ["a healthy pin is tried first", { pin: { accountId: "b" } }, ["b*", "a", "c"]],
    [
      "the pin outranks the session binding",
      { pin: { accountId: "b" }, binding: { accountId: "c" } },
      ["b*", "a", "c"],
    ],
    [
      "a cooling pin gives way to the session binding",
      {
        pin: { accountId: "b" },
        binding: { accountId: "c" },
        accounts: [pool[0], account({ id: "b", overloadedUntil: NOW + 1 }), pool[2]] as AccountView[],
      },
      ["c*", "a"],
    ],
    ["full accounts are not attempted", { load: { a: FULL, c: FULL } }, ["b"]],
  ] as const)("%s", (_name, overrides, expected) => {
    expect(order(planSelection(input(overrides)))).toEqual(expected);
  });

  it("waits on a busy binding with a short queue instead of trying others", () => {
    const plan = acquire(planSelection(input({ binding: { accountId: "b" }, load: { b: FULL } })));
    expect([plan.attempts, plan.waitPlan]).toEqual([
      [],
      { kind: "sticky", accountId: "b", upstreamModel: "gpt-5", timeoutMs: 120_000, maxWaiting: 3 },
    ]);
  });

  it("waits on a busy pin with a short queue", () => {
    const plan = acquire(planSelection(input({ pin: { accountId: "c" }, load: { c: FULL } })));
    expect(plan.waitPlan).toEqual({
      kind: "sticky",
      accountId: "c",
      upstreamModel: "gpt-5",
      timeoutMs: 120_000,
      maxWaiting: 3,
    });
  });

  it("keeps the binding when a busy binding spills over, and binds a new session", () => {
    const spill = acquire(
      planSelection(input({ binding: { accountId: "a" }, load: { a: { inUse: 3, waiting: 3 } } })),
    );
    const fresh = acquire(planSelection(input()));
    expect([bindingWriteAfter(spill.sticky, "b", NOW), bindingWriteAfter(fresh.sticky, "a", NOW)]).toEqual([
      { op: "keep" },
      { op: "set", accountId: "a", expiresAt: NOW + HOUR },
    ]);
  });

  it("offers the fallback wait plan on the best-priority account when every account is full", () => {
    const plan = acquire(planSelection(input({ load: { a: { inUse: 3, waiting: 9 }, b: FULL, c: FULL } })));
    expect([plan.attempts, plan.waitPlan]).toEqual([
      [],
      { kind: "fallback", accountId: "a", upstreamModel: "gpt-5", timeoutMs: 30_000, maxWaiting: 100 },
    ]);
  });

  it("has no wait plan when every queue is full", () => {
    const full = { inUse: 3, waiting: 100 };
    const plan = acquire(planSelection(input({ load: { a: full, b: full, c: full } })));
    expect([plan.attempts, plan.waitPlan]).toEqual([[], null]);
  });

  it("carries the mapped upstream model on each attempt", () => {
    const mapped = [account({ id: "m", modelMapping: { "gpt-5*": "gpt-5-2025-08-07" } })];
    expect(acquire(planSelection(input({ accounts: mapped }))).attempts).toEqual([
      { accountId: "m", upstreamModel: "gpt-5-2025-08-07", sticky: false },
    ]);
  });

  it.each([
    [
      "model_not_supported",
      { request: request({ model: "o3" }), accounts: [account({ modelMapping: { "gpt-5": "" } })] },
    ],
    ["none_available", { accounts: [account({ status: "disabled" })] }],
    ["all_excluded", { request: request({ excludedAccountIds: new Set(["a", "b", "c"]) }) }],
  ] as const)("is unavailable with reason %s", (reason, overrides) => {
    expect(planSelection(input(overrides))).toEqual({ kind: "unavailable", reason });
  });
});

describe("noCandidateError", () => {
  it.each([
    [
      "model_not_supported",
      ErrorCode.MODEL_NOT_FOUND,
      'Model "gpt-x" is not supported by any configured account in this group',
    ],
    ["none_available", ErrorCode.NO_AVAILABLE_ACCOUNT, "No available accounts"],
    ["all_excluded", ErrorCode.ALL_ACCOUNTS_EXCLUDED, "Service temporarily unavailable"],
  ] as const)("answers %s with code %i: %s", (reason: NoCandidateReason, code, message) => {
    const err = noCandidateError(reason, "gpt-x");
    expect([err.code, err.message]).toEqual([code, message]);
  });
});
