/** Account scheduling: pure selection, stickiness and penalty rules (BEHAVIOUR.md §§ selection, sticky, failover). */

export { isContextLengthError, isFailoverWorthy } from "../../../shared/failover-classifier.js";
export {
  type AccountCooldowns,
  type AccountLoad,
  type AccountStatus,
  type AccountType,
  type AccountView,
  IDLE_LOAD,
  isCoolingAt,
  loadPercent,
  OPENAI_PLATFORM,
} from "./account.js";
export {
  type AccountRejection,
  type Candidate,
  type FilterOutcome,
  filterAccounts,
  type NoCandidateReason,
  rejectionOf,
  type SelectionRequest,
} from "./account-filter.js";
export {
  chooseFallbackWait,
  type LoadedCandidate,
  orderForSlots,
  type RandomSource,
  stickyWaitPlan,
  type WaitPlan,
  withLoads,
} from "./account-order.js";
export { groupModelList, isWildcardPattern, type ModelResolution, resolveModel } from "./model-mapping.js";
export {
  type AccountHealth,
  type AccountPenalty,
  applyFailure,
  applySuccess,
  CLEAN_HEALTH,
  type FailureInput,
  type PenaltyOutcome,
  type UpstreamFailureKind,
  type UpstreamFailureView,
} from "./penalties.js";
export {
  DEFAULT_PENALTY_POLICY,
  DEFAULT_STICKY_POLICY,
  DEFAULT_WAIT_POLICY,
  type PenaltyPolicy,
  type StickyPolicy,
  type WaitPolicy,
} from "./scheduling-policy.js";
export {
  noCandidateError,
  planSelection,
  type SelectionInput,
  type SelectionPlan,
  type SlotAttempt,
} from "./selection-plan.js";
export {
  type AccountBinding,
  type AffinityDecision,
  type AffinityDropReason,
  type AffinityInput,
  type BindingWrite,
  bindingExpiry,
  bindingWriteAfter,
  decideAffinity,
  responsePinKey,
  type StickyScope,
  stickyBindingKey,
} from "./sticky.js";
