import type { AccountView } from "../../../src/control-plane/domain/scheduling/account.js";
import type { SelectionRequest } from "../../../src/control-plane/domain/scheduling/account-filter.js";

/** A fixed "now" for every scheduling test: 2026-01-01T00:00:00Z. */
export const NOW = Date.UTC(2026, 0, 1);

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** An active, schedulable API-key account in group g1 that serves every model; override what a test is about. */
export function account(overrides: Partial<AccountView> & { id?: string } = {}): AccountView {
  return {
    id: "a1",
    platform: "openai",
    type: "apikey",
    priority: 50,
    concurrency: 3,
    modelMapping: {},
    groupIds: ["g1"],
    status: "active",
    schedulable: true,
    expiresAt: null,
    rateLimitedUntil: null,
    overloadedUntil: null,
    tempUnschedulableUntil: null,
    lastUsedAt: null,
    ...overrides,
  };
}

/** A request for gpt-5 in group g1 at {@link NOW} with no exclusions. */
export function request(overrides: Partial<SelectionRequest> = {}): SelectionRequest {
  return { groupId: "g1", model: "gpt-5", excludedAccountIds: new Set(), now: NOW, ...overrides };
}

/** A random source that returns the given values in turn (and fails loudly when a test draws more). */
export function sequenceRandom(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    const value = values[i++];
    if (value === undefined) throw new Error(`random drawn ${i} times, only ${values.length} values given`);
    return value;
  };
}

/** mulberry32: a small seeded PRNG, so a shuffle is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A random source for code paths that must not draw. */
export const noRandom = (): number => {
  throw new Error("random must not be drawn here");
};
