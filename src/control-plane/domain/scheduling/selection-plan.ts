import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { AccountLoad, AccountView } from "./account.js";
import { filterAccounts, type NoCandidateReason, type SelectionRequest } from "./account-filter.js";
import {
  chooseFallbackWait,
  type LoadedCandidate,
  orderForSlots,
  type RandomSource,
  type WaitPlan,
  withLoads,
} from "./account-order.js";
import { DEFAULT_WAIT_POLICY, type WaitPolicy } from "./scheduling-policy.js";
import { type AccountBinding, type AffinityDecision, decideAffinity } from "./sticky.js";

/** Everything one selection looks at. */
export interface SelectionInput {
  readonly request: SelectionRequest;
  /** The accounts to consider (the group's, or all); a bound account absent from this list counts as deleted. */
  readonly accounts: readonly AccountView[];
  /** Current slot usage by account id; a missing account is idle. */
  readonly loads: ReadonlyMap<string, AccountLoad>;
  /** The account that produced the request's previous_response_id, when known. */
  readonly pin: AccountBinding | null;
  /** The request's session binding, when it has a session hash and one is stored. */
  readonly binding: AccountBinding | null;
  readonly random: RandomSource;
}

/** One account slot to try, in order. */
export interface SlotAttempt {
  readonly accountId: string;
  readonly upstreamModel: string;
  /** True when it came from the pin or the session binding (reported on the lease). */
  readonly sticky: boolean;
}

/**
 * What the service does next. `unavailable`: answer per {@link noCandidateError}. `acquire`: try the attempts'
 * slots in order and take the first granted; when none is granted, re-read loads and plan once more, then follow
 * `waitPlan`, or answer NO_AVAILABLE_ACCOUNT when it is null. `pin` and `sticky` feed `bindingWriteAfter`.
 */
export type SelectionPlan =
  | { readonly kind: "unavailable"; readonly reason: NoCandidateReason }
  | {
      readonly kind: "acquire";
      readonly attempts: readonly SlotAttempt[];
      readonly waitPlan: WaitPlan | null;
      readonly pin: AffinityDecision;
      readonly sticky: AffinityDecision;
    };

function decide(binding: AccountBinding | null, input: SelectionInput, policy: WaitPolicy): AffinityDecision {
  const account = binding === null ? undefined : input.accounts.find((a) => a.id === binding.accountId);
  const load = binding === null ? undefined : input.loads.get(binding.accountId);
  return decideAffinity({ binding, account, request: input.request, ...(load ? { load } : {}) }, policy);
}

const attemptOf = (c: LoadedCandidate, sticky: boolean): SlotAttempt => ({
  accountId: c.account.id,
  upstreamModel: c.upstreamModel,
  sticky,
});

/**
 * Plans one selection (BEHAVIOUR.md "Account selection" order): filters; then the previous_response_id pin, then
 * the session binding (a healthy free one is tried first, a full one with a short queue is waited on); then the
 * remaining accounts under 100 % load in load-aware order; then the fallback wait plan. The pin outranks the
 * session binding because a response's stored context may only be usable on the account that produced it.
 */
export function planSelection(
  input: SelectionInput,
  policy: WaitPolicy = DEFAULT_WAIT_POLICY,
): SelectionPlan {
  const filtered = filterAccounts(input.accounts, input.request);
  if (!filtered.ok) return { kind: "unavailable", reason: filtered.reason };
  const candidates = withLoads(filtered.candidates, input.loads);
  const pin = decide(input.pin, input, policy);
  const sticky = decide(input.binding, input, policy);
  const affinity = pin.kind === "use" || pin.kind === "wait" ? pin : sticky;
  if (affinity.kind === "wait") {
    return { kind: "acquire", attempts: [], waitPlan: affinity.plan, pin, sticky };
  }
  const lead = affinity.kind === "use" ? affinity.candidate : undefined;
  const rest = orderForSlots(
    candidates.filter((c) => c.account.id !== lead?.account.id),
    input.random,
  );
  const attempts = [...(lead ? [attemptOf(lead, true)] : []), ...rest.map((c) => attemptOf(c, false))];
  const waitPlan = chooseFallbackWait(candidates, input.random, policy);
  return { kind: "acquire", attempts, waitPlan, pin, sticky };
}

/**
 * The client-facing error for a selection with no candidate. For `all_excluded` the service prefers the last
 * recorded upstream failure and uses this only when none was recorded.
 */
export function noCandidateError(reason: NoCandidateReason, model: string): SwitchyardError {
  switch (reason) {
    case "model_not_supported":
      return new SwitchyardError(ErrorCode.MODEL_NOT_FOUND, {
        message: `Model "${model}" is not supported by any configured account in this group`,
      });
    case "all_excluded":
      return new SwitchyardError(ErrorCode.ALL_ACCOUNTS_EXCLUDED);
    case "none_available":
      return new SwitchyardError(ErrorCode.NO_AVAILABLE_ACCOUNT);
  }
}
