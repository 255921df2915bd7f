import { type AccountLoad, IDLE_LOAD, loadPercent } from "./account.js";
import type { Candidate } from "./account-filter.js";
import { DEFAULT_WAIT_POLICY, type WaitPolicy } from "./scheduling-policy.js";

/** A candidate with its current slot usage. */
export interface LoadedCandidate extends Candidate {
  readonly load: AccountLoad;
}

/** Which account to queue on when no slot could be taken, for how long, and how long its queue may be. */
export interface WaitPlan {
  readonly kind: "sticky" | "fallback";
  readonly accountId: string;
  readonly upstreamModel: string;
  readonly timeoutMs: number;
  /** The lease store refuses the wait when this many already wait (it re-checks atomically). */
  readonly maxWaiting: number;
}

/** A uniform random number in [0, 1); injected so tie shuffling is reproducible in tests. */
export type RandomSource = () => number;

/** Attaches each candidate's load; an account missing from `loads` is idle. */
export function withLoads(
  candidates: readonly Candidate[],
  loads: ReadonlyMap<string, AccountLoad>,
): LoadedCandidate[] {
  return candidates.map((c) => ({ ...c, load: loads.get(c.account.id) ?? IDLE_LOAD }));
}

interface Ranked {
  readonly candidate: LoadedCandidate;
  readonly load: number;
  readonly tieBreak: number;
}

function compareRanked(a: Ranked, b: Ranked): number {
  const byPriority = a.candidate.account.priority - b.candidate.account.priority;
  if (byPriority !== 0) return byPriority;
  if (a.load !== b.load) return a.load < b.load ? -1 : 1;
  // Never used sorts as the oldest use, so new accounts are tried first.
  const aUsed = a.candidate.account.lastUsedAt ?? Number.NEGATIVE_INFINITY;
  const bUsed = b.candidate.account.lastUsedAt ?? Number.NEGATIVE_INFINITY;
  if (aUsed !== bUsed) return aUsed < bUsed ? -1 : 1;
  return a.tieBreak - b.tieBreak;
}

/**
 * Ranks candidates: priority (lower first), then load, then least recently used (never used first); exact ties
 * are shuffled with one draw of `random` per candidate, taken in input order so a seeded source gives one order.
 */
function rank(candidates: readonly LoadedCandidate[], random: RandomSource): LoadedCandidate[] {
  return candidates
    .map((candidate) => ({
      candidate,
      load: loadPercent(candidate.load, candidate.account.concurrency),
      tieBreak: random(),
    }))
    .sort(compareRanked)
    .map((r) => r.candidate);
}

/**
 * The order in which to try account slots: candidates under 100 % load, ranked (see {@link rank}). An account at
 * 100 % is left out even with a slot technically free, because the queued requests own that slot.
 */
export function orderForSlots(
  candidates: readonly LoadedCandidate[],
  random: RandomSource,
): LoadedCandidate[] {
  const free = candidates.filter((c) => loadPercent(c.load, c.account.concurrency) < 100);
  return rank(free, random);
}

/**
 * The fallback wait plan for when no slot could be taken: the best-ranked candidate whose queue is shorter than
 * `fallbackMaxWaiting`, or null when every queue is full (the service then answers NO_AVAILABLE_ACCOUNT).
 */
export function chooseFallbackWait(
  candidates: readonly LoadedCandidate[],
  random: RandomSource,
  policy: WaitPolicy = DEFAULT_WAIT_POLICY,
): WaitPlan | null {
  const open = candidates.filter(
    (c) => c.account.concurrency > 0 && c.load.waiting < policy.fallbackMaxWaiting,
  );
  const [best] = rank(open, random);
  if (best === undefined) return null;
  return {
    kind: "fallback",
    accountId: best.account.id,
    upstreamModel: best.upstreamModel,
    timeoutMs: policy.fallbackWaitTimeoutMs,
    maxWaiting: policy.fallbackMaxWaiting,
  };
}

/** The wait plan on a busy sticky account, or null when its queue already holds `stickyMaxWaiting` requests. */
export function stickyWaitPlan(
  candidate: LoadedCandidate,
  policy: WaitPolicy = DEFAULT_WAIT_POLICY,
): WaitPlan | null {
  if (candidate.account.concurrency <= 0 || candidate.load.waiting >= policy.stickyMaxWaiting) return null;
  return {
    kind: "sticky",
    accountId: candidate.account.id,
    upstreamModel: candidate.upstreamModel,
    timeoutMs: policy.stickyWaitTimeoutMs,
    maxWaiting: policy.stickyMaxWaiting,
  };
}
