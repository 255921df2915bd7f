/**
 * Every number that shapes account scheduling, with BEHAVIOUR.md's defaults, in one place. The policies are plain
 * objects so a control-plane setting can override any of them; the functions of this module take them as their
 * last argument and default to these.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** How long and how many requests may wait for an account slot (BEHAVIOUR.md "Concurrency and waiting"). */
export interface WaitPolicy {
  /** A busy sticky account is waited on while fewer than this many requests already wait on it. */
  readonly stickyMaxWaiting: number;
  /** The longest a request waits on its sticky account. */
  readonly stickyWaitTimeoutMs: number;
  /** The fallback candidate is waited on while fewer than this many requests already wait on it. */
  readonly fallbackMaxWaiting: number;
  /** The longest a request waits on the fallback candidate. */
  readonly fallbackWaitTimeoutMs: number;
}

/** BEHAVIOUR.md's wait plans: sticky 3 waiting / 120 s, fallback 100 waiting / 30 s. */
export const DEFAULT_WAIT_POLICY: WaitPolicy = {
  stickyMaxWaiting: 3,
  stickyWaitTimeoutMs: 120 * SECOND,
  fallbackMaxWaiting: 100,
  fallbackWaitTimeoutMs: 30 * SECOND,
};

/** How long session bindings live (BEHAVIOUR.md "Sticky sessions"). */
export interface StickyPolicy {
  /** A binding expires this long after its last hit; each hit moves the expiry. */
  readonly bindingTtlMs: number;
}

/** Bindings live 1 h from their last hit. */
export const DEFAULT_STICKY_POLICY: StickyPolicy = { bindingTtlMs: HOUR };

/** What each upstream failure costs an account (BEHAVIOUR.md "Failover", account penalties). */
export interface PenaltyPolicy {
  /** Rate-limit cooldown after a 429 that names no reset. */
  readonly rateLimitDefaultMs: number;
  /** Overload cooldown after a 529. */
  readonly overloadedMs: number;
  /** Cooldown for the second 5xx in a streak. */
  readonly serverErrorSecondMs: number;
  /** Cooldown for the third and every later 5xx in a streak. */
  readonly serverErrorRepeatedMs: number;
  /** A streak ends when its last 5xx is at least this old. */
  readonly serverErrorStreakWindowMs: number;
  /** Cooldown after a 403 (and, our choice, after a 402). */
  readonly forbiddenMs: number;
  /** 403s are counted over this sliding window. */
  readonly forbiddenWindowMs: number;
  /** This many 403s within the window put the account in error. */
  readonly forbiddenErrorCount: number;
  /** Cooldown after a transport error or a first-byte timeout. */
  readonly transportMs: number;
}

/** BEHAVIOUR.md's penalties: 5 s, 10 min, 10 s / 45 s within 30 min, 10 min and 3 within 3 h, 1 min. */
export const DEFAULT_PENALTY_POLICY: PenaltyPolicy = {
  rateLimitDefaultMs: 5 * SECOND,
  overloadedMs: 10 * MINUTE,
  serverErrorSecondMs: 10 * SECOND,
  serverErrorRepeatedMs: 45 * SECOND,
  serverErrorStreakWindowMs: 30 * MINUTE,
  forbiddenMs: 10 * MINUTE,
  forbiddenWindowMs: 3 * HOUR,
  forbiddenErrorCount: 3,
  transportMs: MINUTE,
};
