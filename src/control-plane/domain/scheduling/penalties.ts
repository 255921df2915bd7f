import type { AccountCooldowns, AccountType } from "./account.js";
import { DEFAULT_PENALTY_POLICY, type PenaltyPolicy } from "./scheduling-policy.js";

/** An account's failure history that penalties escalate on; stored by the service next to the account. */
export interface AccountHealth {
  /** 5xx-like failures in a row (see {@link applyFailure}); 0 when none. */
  readonly serverErrorStreak: number;
  /** When the last one of the streak happened; null when there is no streak. */
  readonly lastServerErrorAt: number | null;
  /** When recent 403s happened, oldest first; only those inside the 403 window are kept. */
  readonly forbiddenAt: readonly number[];
}

/** A healthy account's history. */
export const CLEAN_HEALTH: AccountHealth = { serverErrorStreak: 0, lastServerErrorAt: null, forbiddenAt: [] };

/** How an upstream attempt failed (the proto's UpstreamFailureKind; UNSPECIFIED maps to `http_status`). */
export type UpstreamFailureKind = "http_status" | "transport" | "headers_timeout" | "empty_stream";

/** An upstream failure as the data plane reported it. */
export interface UpstreamFailureView {
  readonly kind: UpstreamFailureKind;
  /** The HTTP status for `http_status`; ignored otherwise. */
  readonly status: number;
  /** The shortest reset the upstream gave for a 429, in ms; 0 when it gave none. */
  readonly resetAfterMs: number;
  /** A short excerpt of the upstream error message, for the cooldown reason; may be empty. */
  readonly message: string;
}

/**
 * The one change to persist on the account. Each cooldown kind writes its own field plus `status_reason`; `error`
 * sets status error, which only an administrator clears.
 */
export type AccountPenalty =
  | { readonly kind: "none" }
  | { readonly kind: "rate_limited"; readonly until: number; readonly reason: string }
  | { readonly kind: "overloaded"; readonly until: number; readonly reason: string }
  | { readonly kind: "temp_unschedulable"; readonly until: number; readonly reason: string }
  | { readonly kind: "error"; readonly reason: string };

/** One failure to account for. */
export interface FailureInput {
  readonly health: AccountHealth;
  /** The account's current status and cooldowns: a penalty never shortens a cooldown already in place. */
  readonly cooldowns: AccountCooldowns;
  readonly failure: UpstreamFailureView;
  readonly accountType: AccountType;
  /** Set by a matching error-passthrough rule with skip_monitoring: the failure costs the account nothing. */
  readonly skipMonitoring: boolean;
  readonly now: number;
}

/** The account's new history and the change to persist. */
export interface PenaltyOutcome {
  readonly health: AccountHealth;
  readonly penalty: AccountPenalty;
}

const NO_PENALTY: AccountPenalty = { kind: "none" };
const REASON_LIMIT = 200;

const FAILURE_LABELS: Record<Exclude<UpstreamFailureKind, "http_status">, string> = {
  transport: "upstream transport error",
  headers_timeout: "upstream first-byte timeout",
  empty_stream: "upstream stream ended before any output",
};

function reasonFor(failure: UpstreamFailureView, detail = ""): string {
  const what = failure.kind === "http_status" ? `upstream ${failure.status}` : FAILURE_LABELS[failure.kind];
  const text = `${what}${detail}${failure.message === "" ? "" : `: ${failure.message}`}`;
  return text.length > REASON_LIMIT ? `${text.slice(0, REASON_LIMIT - 1)}…` : text;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** A cooldown that ends later than the one in place, or nothing: penalties only ever extend a cooldown. */
function extend(
  kind: "rate_limited" | "overloaded" | "temp_unschedulable",
  current: number | null,
  until: number,
  reason: string,
): AccountPenalty {
  return current !== null && current >= until ? NO_PENALTY : { kind, until, reason };
}

function serverErrorEvent(input: FailureInput, policy: PenaltyPolicy): PenaltyOutcome {
  const { health, now } = input;
  const last = health.lastServerErrorAt;
  const continues = last !== null && now - last < policy.serverErrorStreakWindowMs;
  const streak = continues ? health.serverErrorStreak + 1 : 1;
  const next: AccountHealth = { ...health, serverErrorStreak: streak, lastServerErrorAt: now };
  if (streak < 2) return { health: next, penalty: NO_PENALTY };
  const ms = streak === 2 ? policy.serverErrorSecondMs : policy.serverErrorRepeatedMs;
  const reason = reasonFor(input.failure, ` (${ordinal(streak)} in a row)`);
  const current = input.cooldowns.tempUnschedulableUntil;
  return { health: next, penalty: extend("temp_unschedulable", current, now + ms, reason) };
}

function forbiddenEvent(input: FailureInput, policy: PenaltyPolicy): PenaltyOutcome {
  const { health, now } = input;
  const recent = health.forbiddenAt.filter((at) => now - at < policy.forbiddenWindowMs);
  const forbiddenAt = [...recent, now];
  const next: AccountHealth = { ...health, forbiddenAt };
  if (forbiddenAt.length >= policy.forbiddenErrorCount) {
    const detail = ` (${forbiddenAt.length} times within ${policy.forbiddenWindowMs / 3_600_000} h)`;
    return { health: next, penalty: toError(input, reasonFor(input.failure, detail)) };
  }
  const current = input.cooldowns.tempUnschedulableUntil;
  const penalty = extend("temp_unschedulable", current, now + policy.forbiddenMs, reasonFor(input.failure));
  return { health: next, penalty };
}

/** Status error only from active: an admin's `disabled` is not overwritten, an `error` is not rewritten. */
function toError(input: FailureInput, reason: string): AccountPenalty {
  return input.cooldowns.status === "active" ? { kind: "error", reason } : NO_PENALTY;
}

function httpStatusPenalty(input: FailureInput, policy: PenaltyPolicy): PenaltyOutcome {
  const { failure, now, cooldowns, health } = input;
  const reason = reasonFor(failure);
  const temp = (ms: number): PenaltyOutcome => ({
    health,
    penalty: extend("temp_unschedulable", cooldowns.tempUnschedulableUntil, now + ms, reason),
  });
  switch (failure.status) {
    case 429: {
      const ms = failure.resetAfterMs > 0 ? failure.resetAfterMs : policy.rateLimitDefaultMs;
      return { health, penalty: extend("rate_limited", cooldowns.rateLimitedUntil, now + ms, reason) };
    }
    case 529:
      return {
        health,
        penalty: extend("overloaded", cooldowns.overloadedUntil, now + policy.overloadedMs, reason),
      };
    case 401:
      // An API key that is refused stays refused; an OAuth token may be refreshed, so it only cools down.
      return input.accountType === "apikey"
        ? { health, penalty: toError(input, reason) }
        : temp(policy.forbiddenMs);
    case 402:
      // Payment required: out of credit until someone pays, which needs no admin action on Switchyard's side.
      return temp(policy.forbiddenMs);
    case 403:
      return forbiddenEvent(input, policy);
  }
  if (failure.status >= 500 && failure.status <= 599) return serverErrorEvent(input, policy);
  return { health, penalty: NO_PENALTY };
}

/**
 * The penalty for one failed upstream attempt (BEHAVIOUR.md "Failover", account penalties): 429 → rate-limited for
 * the upstream's shortest reset, else 5 s; 529 → overloaded 10 min; 5xx → streak (1st nothing, 2nd 10 s, 3rd+
 * 45 s; a streak lapses once its last 5xx is 30 min old); 401 on an API key → status error; 403 → 10 min, the
 * third within 3 h → status error; transport error or first-byte timeout → 1 min; an empty stream counts as a 5xx
 * in the streak (the upstream accepted the request and produced nothing: a server-side fault). Other statuses
 * (400, 405, 413, …) cost nothing and do not touch the streak. `skipMonitoring` leaves everything unchanged.
 */
export function applyFailure(
  input: FailureInput,
  policy: PenaltyPolicy = DEFAULT_PENALTY_POLICY,
): PenaltyOutcome {
  if (input.skipMonitoring) return { health: input.health, penalty: NO_PENALTY };
  const { failure, now, cooldowns, health } = input;
  switch (failure.kind) {
    case "http_status":
      return httpStatusPenalty(input, policy);
    case "empty_stream":
      return serverErrorEvent(input, policy);
    case "transport":
    case "headers_timeout": {
      const until = now + policy.transportMs;
      return {
        health,
        penalty: extend("temp_unschedulable", cooldowns.tempUnschedulableUntil, until, reasonFor(failure)),
      };
    }
  }
}

/**
 * The history after a successful response: the 5xx streak is cleared. 403s are kept, since "three within 3 h" is
 * a window count, not a streak; cooldowns in place are left to run out.
 */
export function applySuccess(health: AccountHealth): AccountHealth {
  return { ...health, serverErrorStreak: 0, lastServerErrorAt: null };
}
