import { type AccountLoad, type AccountView, IDLE_LOAD, loadPercent } from "./account.js";
import { type AccountRejection, rejectionOf, type SelectionRequest } from "./account-filter.js";
import { type LoadedCandidate, stickyWaitPlan, type WaitPlan } from "./account-order.js";
import { resolveModel } from "./model-mapping.js";
import {
  DEFAULT_STICKY_POLICY,
  DEFAULT_WAIT_POLICY,
  type StickyPolicy,
  type WaitPolicy,
} from "./scheduling-policy.js";

/** Who a session binding belongs to: bindings are never shared across users or groups (sub2api #5262). */
export interface StickyScope {
  readonly groupId: string;
  readonly userId: string;
  /** 16 hex chars from the data plane; empty when the request has no session identity. */
  readonly sessionHash: string;
}

/** The account a binding or a previous_response_id pin points at, as read from storage. */
export interface AccountBinding {
  readonly accountId: string;
}

/**
 * The storage key of a session binding, `sticky:{group}:{user}:{hash}` with each part URI-encoded so no part can
 * forge a separator; null when the request has no session hash (no stickiness).
 */
export function stickyBindingKey(scope: StickyScope): string | null {
  if (scope.sessionHash === "") return null;
  const parts = [scope.groupId, scope.userId, scope.sessionHash].map(encodeURIComponent);
  return `sticky:${parts.join(":")}`;
}

/** The storage key of a previous_response_id pin (response id → account); null when the request names none. */
export function responsePinKey(responseId: string): string | null {
  return responseId === "" ? null : `respin:${encodeURIComponent(responseId)}`;
}

/** The expiry of a binding or pin written or hit at `now`. */
export function bindingExpiry(now: number, policy: StickyPolicy = DEFAULT_STICKY_POLICY): number {
  return now + policy.bindingTtlMs;
}

/** Why a binding is dropped: the bound account was deleted or fails a selection filter other than exclusion. */
export type AffinityDropReason = "deleted" | Exclude<AccountRejection, "excluded">;

/**
 * What to do with a binding (or pin) for this request.
 * - `none`: no binding; select normally, then bind whatever served.
 * - `use`: the bound account is healthy with a free slot; try it first.
 * - `wait`: it is healthy but full and its queue is short; wait on it with `plan`.
 * - `spill`: it is healthy but full with a long queue, or this request already failed on it; select among the
 *   others and keep the binding (a capacity blip or a one-off failure must not move the session; sub2api #6164).
 * - `drop`: it can no longer serve; delete the binding, select normally and bind whatever served.
 */
export type AffinityDecision =
  | { readonly kind: "none" }
  | { readonly kind: "use"; readonly candidate: LoadedCandidate }
  | { readonly kind: "wait"; readonly candidate: LoadedCandidate; readonly plan: WaitPlan }
  | { readonly kind: "spill"; readonly accountId: string; readonly reason: "busy" | "excluded" }
  | { readonly kind: "drop"; readonly accountId: string; readonly reason: AffinityDropReason };

/** The binding as found in storage and the bound account's current state. */
export interface AffinityInput {
  readonly binding: AccountBinding | null;
  /** The bound account as stored now; undefined when it no longer exists. */
  readonly account: AccountView | undefined;
  /** Its slot usage; missing means idle. */
  readonly load?: AccountLoad;
  readonly request: SelectionRequest;
}

/**
 * Decides a session binding or a previous_response_id pin by the same "use it if healthy" rule: dropped when the
 * account is gone, off, expired, cooling down, out of the group or no longer serves the model; when merely full,
 * waited on while fewer than `stickyMaxWaiting` wait, else spilled over without rebinding.
 */
export function decideAffinity(
  input: AffinityInput,
  policy: WaitPolicy = DEFAULT_WAIT_POLICY,
): AffinityDecision {
  const { binding, account, request } = input;
  if (binding === null) return { kind: "none" };
  const accountId = binding.accountId;
  if (account === undefined || account.id !== accountId) {
    return { kind: "drop", accountId, reason: "deleted" };
  }
  const rejection = rejectionOf(account, request);
  if (rejection === "excluded") return { kind: "spill", accountId, reason: "excluded" };
  if (rejection !== null) return { kind: "drop", accountId, reason: rejection };
  const load = input.load ?? IDLE_LOAD;
  const { upstreamModel } = resolveModel(account.modelMapping, request.model);
  const candidate: LoadedCandidate = { account, upstreamModel, load };
  if (loadPercent(load, account.concurrency) < 100) return { kind: "use", candidate };
  const plan = stickyWaitPlan(candidate, policy);
  return plan === null ? { kind: "spill", accountId, reason: "busy" } : { kind: "wait", candidate, plan };
}

/** What to store for a session binding once the request has (or has not) got an account. */
export type BindingWrite =
  | { readonly op: "keep" }
  | { readonly op: "set"; readonly accountId: string; readonly expiresAt: number }
  | { readonly op: "delete" };

/**
 * The binding write after selection. A hit (the bound account served) refreshes the TTL and returns the new
 * expiry; a healthy binding is never moved to another account; a missing or dropped binding is set to whatever
 * served, and a dropped one is deleted when nothing served. Pins are written on release, not here.
 */
export function bindingWriteAfter(
  decision: AffinityDecision,
  servedAccountId: string | null,
  now: number,
  policy: StickyPolicy = DEFAULT_STICKY_POLICY,
): BindingWrite {
  switch (decision.kind) {
    case "use":
    case "wait":
      return servedAccountId === decision.candidate.account.id
        ? { op: "set", accountId: servedAccountId, expiresAt: bindingExpiry(now, policy) }
        : { op: "keep" };
    case "spill":
      return { op: "keep" };
    case "none":
    case "drop":
      if (servedAccountId !== null) {
        return { op: "set", accountId: servedAccountId, expiresAt: bindingExpiry(now, policy) };
      }
      return decision.kind === "drop" ? { op: "delete" } : { op: "keep" };
  }
}
