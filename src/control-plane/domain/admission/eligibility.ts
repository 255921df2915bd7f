import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { exhaustedWindow, limitExceededMessage, usageAt } from "../billing/subscription-limits.js";
import type { KeyRecord } from "./directory.js";

/**
 * Whether a key may start a request now (BEHAVIOUR.md "Billing eligibility and cost"): the key active and unexpired
 * with quota left, its user active, and the group's billing satisfied — a positive balance, or an active, unexpired
 * subscription whose daily, weekly and monthly usage are each under the group's limit. Throws the refusal the client
 * should see; checks run in that order, so a key that fails several gets the first.
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
  if (key.billingMode === "subscription") assertSubscriptionRoom(key, now);
}

function assertSubscriptionRoom(key: KeyRecord, now: number): void {
  const subscription = key.subscription;
  if (subscription === null || subscription.expiresAt <= now) {
    throw new SwitchyardError(ErrorCode.SUBSCRIPTION_REQUIRED);
  }
  const usage = usageAt(subscription.usageUsd, subscription.dayEndsAt, now);
  const window = exhaustedWindow(key.limitsUsd, usage);
  if (window !== null) {
    throw new SwitchyardError(ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED, {
      message: limitExceededMessage(window),
    });
  }
}
