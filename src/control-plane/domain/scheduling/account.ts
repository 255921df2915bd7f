/**
 * The account as scheduling sees it: plain values, instants as Unix epoch milliseconds, null for "not set". The
 * service layer builds it from storage; nothing here knows about proto or database rows.
 */

/** The only platform Switchyard schedules today. */
export const OPENAI_PLATFORM = "openai";

/** Administrative state: only `active` accounts are scheduled; `error` is set by penalties, cleared by an admin. */
export type AccountStatus = "active" | "disabled" | "error";

/** How the account authenticates upstream; penalties differ (a 401 disables an API key). */
export type AccountType = "apikey" | "oauth";

/** One upstream account, reduced to what selection, stickiness and penalties read. */
export interface AccountView {
  readonly id: string;
  readonly platform: string;
  readonly type: AccountType;
  /** Lower is tried first. */
  readonly priority: number;
  /** Most requests in flight at once; 0 or less means the account never has a free slot. */
  readonly concurrency: number;
  /** Requested model pattern → upstream model; empty serves every model unchanged (see model-mapping.ts). */
  readonly modelMapping: Readonly<Record<string, string>>;
  readonly groupIds: readonly string[];
  readonly status: AccountStatus;
  /** False takes the account out of scheduling without disabling it. */
  readonly schedulable: boolean;
  /** The first instant the account is no longer valid; null for never. */
  readonly expiresAt: number | null;
  readonly rateLimitedUntil: number | null;
  readonly overloadedUntil: number | null;
  readonly tempUnschedulableUntil: number | null;
  /** Last time a request was sent through the account; null when never used. */
  readonly lastUsedAt: number | null;
}

/** The cooldown and status fields penalties read and write. */
export type AccountCooldowns = Pick<
  AccountView,
  "status" | "rateLimitedUntil" | "overloadedUntil" | "tempUnschedulableUntil"
>;

/** An account's slot usage right now, as the lease store counts it. */
export interface AccountLoad {
  /** Slots held. */
  readonly inUse: number;
  /** Requests queued for a slot. */
  readonly waiting: number;
}

/** The load of an account nobody uses or waits on. */
export const IDLE_LOAD: AccountLoad = { inUse: 0, waiting: 0 };

/**
 * Load in percent: (in use + waiting) × 100 / concurrency, unrounded so close loads still order. Waiters count so
 * an account whose free slot is already promised to a queued request is not offered to a newcomer. A concurrency
 * of 0 or less gives Infinity.
 */
export function loadPercent(load: AccountLoad, concurrency: number): number {
  if (concurrency <= 0) return Number.POSITIVE_INFINITY;
  return ((load.inUse + load.waiting) * 100) / concurrency;
}

/** Whether a cooldown instant still holds at `now`; a cooldown ending exactly at `now` is over. */
export function isCoolingAt(until: number | null, now: number): boolean {
  return until !== null && until > now;
}
