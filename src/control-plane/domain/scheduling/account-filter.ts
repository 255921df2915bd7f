import { type AccountView, isCoolingAt, OPENAI_PLATFORM } from "./account.js";
import { resolveModel } from "./model-mapping.js";

/** What one selection is for. */
export interface SelectionRequest {
  /** The group of the client's API key. */
  readonly groupId: string;
  /** The model the client asked for, before mapping. */
  readonly model: string;
  /** Accounts this request already failed on; they are not tried again for it. */
  readonly excludedAccountIds: ReadonlySet<string>;
  /** Unix epoch milliseconds. */
  readonly now: number;
}

/**
 * Why an account cannot take a request, checked in this order. The first three are configuration (the account
 * could never serve this request); the next six are state that changes with time or an admin; `excluded` is
 * checked last, so an account rejected as `excluded` would otherwise have been a candidate.
 */
export type AccountRejection =
  | "other_group"
  | "other_platform"
  | "model_not_supported"
  | "inactive"
  | "unschedulable"
  | "expired"
  | "rate_limited"
  | "overloaded"
  | "temp_unschedulable"
  | "excluded";

/** An account that may take the request, with the model name to send upstream. */
export interface Candidate {
  readonly account: AccountView;
  readonly upstreamModel: string;
}

/**
 * Why no account is a candidate. The service answers `model_not_supported` with MODEL_NOT_FOUND;
 * `all_excluded` with the last recorded upstream failure, or ALL_ACCOUNTS_EXCLUDED when none was recorded;
 * `none_available` (every serving account is off or cooling) with NO_AVAILABLE_ACCOUNT.
 */
export type NoCandidateReason = "model_not_supported" | "all_excluded" | "none_available";

/** The candidates for a request, or why there are none. */
export type FilterOutcome =
  | { readonly ok: true; readonly candidates: readonly Candidate[] }
  | { readonly ok: false; readonly reason: NoCandidateReason };

type Assessment =
  | { readonly rejection: AccountRejection; readonly upstreamModel?: undefined }
  | { readonly rejection: null; readonly upstreamModel: string };

function stateRejection(account: AccountView, now: number): AccountRejection | null {
  if (account.status !== "active") return "inactive";
  if (!account.schedulable) return "unschedulable";
  if (account.expiresAt !== null && account.expiresAt <= now) return "expired";
  if (isCoolingAt(account.rateLimitedUntil, now)) return "rate_limited";
  if (isCoolingAt(account.overloadedUntil, now)) return "overloaded";
  if (isCoolingAt(account.tempUnschedulableUntil, now)) return "temp_unschedulable";
  return null;
}

function assess(account: AccountView, request: SelectionRequest): Assessment {
  if (!account.groupIds.includes(request.groupId)) return { rejection: "other_group" };
  if (account.platform !== OPENAI_PLATFORM) return { rejection: "other_platform" };
  const model = resolveModel(account.modelMapping, request.model);
  if (!model.supported) return { rejection: "model_not_supported" };
  const rejection =
    stateRejection(account, request.now) ?? (request.excludedAccountIds.has(account.id) ? "excluded" : null);
  return rejection === null ? { rejection, upstreamModel: model.upstreamModel } : { rejection };
}

/**
 * The first reason (BEHAVIOUR.md "Account selection" filters) the account cannot take the request, or null when it
 * can. Expiry and cooldowns are instants: at exactly their value they are over.
 */
export function rejectionOf(account: AccountView, request: SelectionRequest): AccountRejection | null {
  return assess(account, request).rejection;
}

/** Applies every selection filter; load is not looked at here (a full account is still a candidate to wait on). */
export function filterAccounts(accounts: readonly AccountView[], request: SelectionRequest): FilterOutcome {
  const candidates: Candidate[] = [];
  let serving = 0;
  let excluded = 0;
  for (const account of accounts) {
    const { rejection, upstreamModel } = assess(account, request);
    if (
      rejection === "other_group" ||
      rejection === "other_platform" ||
      rejection === "model_not_supported"
    ) {
      continue;
    }
    serving++;
    if (rejection === "excluded") excluded++;
    else if (rejection === null) candidates.push({ account, upstreamModel });
  }
  if (candidates.length > 0) return { ok: true, candidates };
  if (serving === 0) return { ok: false, reason: "model_not_supported" };
  return { ok: false, reason: excluded > 0 ? "all_excluded" : "none_available" };
}
