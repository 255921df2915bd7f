import type { EntityManager } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { Change, ChangeFeed } from "../change-feed.js";

/**
 * What every catalog needs. `em` is the root entity manager: each call forks it, so concurrent calls never share an
 * identity map or a half-failed unit of work.
 */
export interface CatalogDeps {
  em: EntityManager;
  clock: Clock;
  changes: ChangeFeed;
  /** Receives one audit line per committed mutation. */
  log: Logger;
}

/** The current instant as a Date (millisecond precision, which is what the keyset cursors rely on). */
export function nowOf(deps: Pick<CatalogDeps, "clock">): Date {
  return new Date(deps.clock.now());
}

/**
 * Records a committed mutation: one structured audit line (non-secret fields only; callers never pass credentials,
 * keys or key hashes), then the change caches depend on. Called after the transaction commits, so neither the log
 * nor a subscriber ever sees a change that was rolled back.
 */
export function recordMutation(
  deps: Pick<CatalogDeps, "changes" | "log">,
  action: string,
  change: Change,
  fields: Record<string, unknown> = {},
): void {
  deps.log.info({ audit: true, action, id: change.id, ...fields }, "admin change");
  deps.changes.publish(change);
}
