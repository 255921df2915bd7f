import { describe, expect, it } from "vitest";
import { type AccountView, loadPercent } from "../../../src/control-plane/domain/scheduling/account.js";
import {
  chooseFallbackWait,
  type LoadedCandidate,
  orderForSlots,
  stickyWaitPlan,
  withLoads,
} from "../../../src/control-plane/domain/scheduling/account-order.js";
import { account, NOW, seededRandom, sequenceRandom } from "./scheduling-fixture.js";

type Row = { id: string; inUse?: number; waiting?: number } & Partial<AccountView>;

function loaded(rows: readonly Row[]): LoadedCandidate[] {
  return rows.map(({ inUse = 0, waiting = 0, ...overrides }) => ({
    account: account(overrides),
    upstreamModel: "gpt-5",
    load: { inUse, waiting },
  }));
}

const ids = (cs: readonly LoadedCandidate[]): string[] => cs.map((c) => c.account.id);
/** Equal draws: the tie-break never decides a row that is about another rule. */
const flat = (): (() => number) => sequenceRandom([0.5, 0.5, 0.5, 0.5]);

describe("loadPercent", () => {
  it.each([
    [0, 0, 3, 0],
    [1, 0, 4, 25],
    [1, 1, 4, 50],
    [2, 1, 3, 100],
    [3, 2, 3, (5 * 100) / 3],
    [1, 0, 0, Number.POSITIVE_INFINITY],
  ])("(%i in use + %i waiting) of %i is %f %%", (inUse, waiting, concurrency, expected) => {
    expect(loadPercent({ inUse, waiting }, concurrency)).toBe(expected);
  });
});

describe("orderForSlots", () => {
  it.each([
    [
      "lower priority value first, even when busier",
      [
        { id: "b", priority: 50, inUse: 0 },
        { id: "a", priority: 10, inUse: 2 },
      ],
      ["a", "b"],
    ],
    [
      "lower load first at equal priority, even when used more recently",
      [
        { id: "b", inUse: 1, lastUsedAt: NOW - 1_000_000 },
        { id: "a", inUse: 0, lastUsedAt: NOW },
      ],
      ["a", "b"],
    ],
    [
      "waiting requests count towards load",
      [
        { id: "b", inUse: 0, waiting: 2 },
        { id: "a", inUse: 1, waiting: 0 },
      ],
      ["a", "b"],
    ],
    [
      "load is relative to concurrency",
      [
        { id: "b", inUse: 1, concurrency: 2 },
        { id: "a", inUse: 2, concurrency: 10 },
      ],
      ["a", "b"],
    ],
    [
      "least recently used first at equal priority and load",
      [
        { id: "b", lastUsedAt: NOW - 10 },
        { id: "a", lastUsedAt: NOW - 100 },
      ],
      ["a", "b"],
    ],
    [
      "never used before any used account",
      [
        { id: "b", lastUsedAt: NOW - 1_000_000 },
        { id: "a", lastUsedAt: null },
      ],
      ["a", "b"],
    ],
    [
      "accounts at 100 % load are left out, waiters included",
      [
        { id: "full", inUse: 3 },
        { id: "promised", inUse: 2, waiting: 1 },
        { id: "over", inUse: 3, waiting: 4 },
        { id: "free", inUse: 2 },
      ],
      ["free"],
    ],
    ["an account with concurrency 0 never has a free slot", [{ id: "zero", concurrency: 0 }], []],
    ["no candidates give no attempts", [], []],
  ] as const)("%s", (_name, rows, expected) => {
    expect(ids(orderForSlots(loaded(rows), flat()))).toEqual(expected);
  });

  it("shuffles exact ties by one draw per candidate, in input order", () => {
    const ties = loaded([{ id: "a" }, { id: "b" }, { id: "c" }]);
    expect(ids(orderForSlots(ties, sequenceRandom([0.7, 0.2, 0.5])))).toEqual(["b", "c", "a"]);
  });

  it.each([
    [1, ["b", "c", "a", "d"]],
    [2, ["c", "b", "d", "a"]],
    [42, ["b", "a", "d", "c"]],
  ])("gives the same tie order for seed %i on every run", (seed, expected) => {
    const ties = loaded([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }]);
    expect(ids(orderForSlots(ties, seededRandom(seed)))).toEqual(expected);
    expect(ids(orderForSlots(ties, seededRandom(seed)))).toEqual(expected);
  });

  it("reaches every order of four tied accounts over 200 seeds", () => {
    const ties = loaded([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }]);
    const orders = new Set<string>();
    for (let seed = 0; seed < 200; seed++) orders.add(ids(orderForSlots(ties, seededRandom(seed))).join(""));
    expect(orders.size).toBe(24);
  });

  it("shuffles only within a tie, never across priorities", () => {
    const rows = loaded([
      { id: "low", priority: 90 },
      { id: "high", priority: 1 },
    ]);
    expect(ids(orderForSlots(rows, sequenceRandom([0, 0.99])))).toEqual(["high", "low"]);
  });
});

describe("withLoads", () => {
  it("attaches the stored load and treats a missing one as idle", () => {
    const a = account({ id: "a" });
    const b = account({ id: "b" });
    const loads = new Map([["a", { inUse: 2, waiting: 1 }]]);
    expect(
      withLoads(
        [
          { account: a, upstreamModel: "m" },
          { account: b, upstreamModel: "m" },
        ],
        loads,
      ),
    ).toEqual([
      { account: a, upstreamModel: "m", load: { inUse: 2, waiting: 1 } },
      { account: b, upstreamModel: "m", load: { inUse: 0, waiting: 0 } },
    ]);
  });
});

describe("chooseFallbackWait", () => {
  it.each([
    [
      "the best-priority full account",
      [
        { id: "b", priority: 50, inUse: 3 },
        { id: "a", priority: 10, inUse: 3, waiting: 4 },
      ],
      "a",
    ],
    [
      "the shorter queue relative to concurrency at equal priority",
      [
        { id: "b", inUse: 3, waiting: 5 },
        { id: "a", inUse: 3, waiting: 1 },
      ],
      "a",
    ],
    [
      "skips a queue that already holds 100 waiting",
      [
        { id: "b", priority: 10, inUse: 3, waiting: 100 },
        { id: "a", priority: 50, inUse: 3, waiting: 99 },
      ],
      "a",
    ],
    [
      "skips an account with concurrency 0",
      [
        { id: "z", concurrency: 0 },
        { id: "a", inUse: 3 },
      ],
      "a",
    ],
  ] as const)("waits on %s", (_name, rows, expected) => {
    expect(chooseFallbackWait(loaded(rows), flat())).toEqual({
      kind: "fallback",
      accountId: expected,
      upstreamModel: "gpt-5",
      timeoutMs: 30_000,
      maxWaiting: 100,
    });
  });

  it.each([
    ["every queue is full", [{ id: "a", inUse: 3, waiting: 100 }]],
    ["there is no candidate", []],
  ] as const)("has no plan when %s", (_name, rows) => {
    expect(chooseFallbackWait(loaded(rows), flat())).toBeNull();
  });

  it("uses the policy's timeout and queue length", () => {
    const policy = {
      stickyMaxWaiting: 1,
      stickyWaitTimeoutMs: 1,
      fallbackMaxWaiting: 2,
      fallbackWaitTimeoutMs: 5,
    };
    expect(chooseFallbackWait(loaded([{ id: "a", inUse: 3, waiting: 2 }]), flat(), policy)).toBeNull();
    expect(chooseFallbackWait(loaded([{ id: "a", inUse: 3, waiting: 1 }]), flat(), policy)).toMatchObject({
      timeoutMs: 5,
      maxWaiting: 2,
    });
  });
});

describe("stickyWaitPlan", () => {
  it.each([
    [0, true],
    [2, true],
    [3, false],
    [7, false],
  ])("with %i already waiting, waits: %s", (waiting, waits) => {
    const [candidate] = loaded([{ id: "s", inUse: 3, waiting }]);
    if (candidate === undefined) throw new Error("fixture");
    const expected = waits
      ? { kind: "sticky", accountId: "s", upstreamModel: "gpt-5", timeoutMs: 120_000, maxWaiting: 3 }
      : null;
    expect(stickyWaitPlan(candidate)).toEqual(expected);
  });
});
