import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { KeyRecord } from "./directory.js";

/**
 * Whether a key may start a request now (BEHAVIOUR.md "Billing eligibility"): the key active and unexpired with
 * quota left, its user active, and the group's billing satisfied (a positive balance, or an active subscription).
 * Throws the refusal the client should see.
 */
export function assertEligible(key: KeyRecord, now: number): void {
  if (key.keyStatus !== "active") throw new SwitchyardError(ErrorCode.API_KEY_DISABLED);
  if (key.expiresAt !== null && key.expiresAt <= now) throw new SwitchyardError(ErrorCode.API_KEY_EXPIRED);
  if (key.userStatus !== "active") throw new SwitchyardError(ErrorCode.USER_DISABLED);
  if (key.quotaUsd !== null && key.quotaUsedUsd >= key.quotaUsd) {
    throw new SwitchyardError(ErrorCode.KEY_QUOTA_EXCEEDED);
  }
  if (key.billingMode === "balance" && key.balanceUsd <= 0n) {
    throw new SwitchyardError(ErrorCode.INSUFFICIENT_BALANCE);
  }
  if (key.billingMode === "subscription" && !key.hasActiveSubscription) {
    throw new SwitchyardError(ErrorCode.SUBSCRIPTION_REQUIRED);
  }
}
