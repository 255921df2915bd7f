import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { applyFailure, type UpstreamFailureView } from "../scheduling/index.js";
import type { Directory } from "./directory.js";
import type { LeaseRecord } from "./lease-book.js";

/** A failed attempt as the data plane reports it. */
export type AttemptFailure = UpstreamFailureView & { skipMonitoring: boolean };

/**
 * Applies a failed attempt to the lease's current account (BEHAVIOUR.md "Account health"): the health streaks and,
 * where the failure calls for one, a cooldown or an error status. Used by a reroute and by a release that ends on a
 * refusal, so every failed attempt counts, the last one of a chain included.
 */
export async function penaliseAccount(
  deps: { directory: Directory; clock: Clock; log: Logger },
  record: LeaseRecord,
  failure: AttemptFailure,
): Promise<void> {
  if (record.accountId === null) return;
  const accounts = await deps.directory.accountsOfGroup(record.groupId);
  const account = accounts.find((a) => a.view.id === record.accountId);
  if (!account) return;
  const outcome = applyFailure({
    health: account.health,
    cooldowns: account.view,
    failure,
    accountType: account.view.type,
    skipMonitoring: failure.skipMonitoring,
    now: deps.clock.now(),
  });
  await deps.directory.recordOutcome(account.view.id, outcome.health, outcome.penalty);
  if (outcome.penalty.kind !== "none") {
    deps.log.info({ accountId: account.view.id, penalty: outcome.penalty }, "account penalised");
  }
}
