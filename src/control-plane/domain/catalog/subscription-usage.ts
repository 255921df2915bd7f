import type { EntityManager } from "@mikro-orm/postgresql";
import { fromNumeric, type PicoUsd } from "../../../shared/money.js";
import { billingWindowStarts } from "./billing-windows.js";

/** USD a subscription used in each of its current windows. */
export interface SubscriptionUsage {
  dailyUsd: PicoUsd;
  weeklyUsd: PicoUsd;
  monthlyUsd: PicoUsd;
}

interface UsageRow {
  subscription_id: string;
  daily: string;
  weekly: string;
  monthly: string;
}

/**
 * Sums `total_cost_usd` of the subscriptions' usage records over the calendar day (billing timezone), the last 7
 * days and the last 30 days, in one query. Subscriptions without usage are absent from the map.
 */
export async function subscriptionUsage(
  em: EntityManager,
  ids: readonly string[],
  now: number,
  timeZone: string,
): Promise<Map<string, SubscriptionUsage>> {
  if (ids.length === 0) return new Map();
  const w = billingWindowStarts(now, timeZone);
  const [daily, weekly, monthly] = [w.daily, w.weekly, w.monthly].map((t) => new Date(t));
  const earliest = new Date(Math.min(w.daily, w.monthly));
  const rows = await em.getConnection().execute<UsageRow[]>(
    `select subscription_id::text as subscription_id,
       coalesce(sum(total_cost_usd) filter (where created_at >= ?), 0) as daily,
       coalesce(sum(total_cost_usd) filter (where created_at >= ?), 0) as weekly,
       coalesce(sum(total_cost_usd) filter (where created_at >= ?), 0) as monthly
     from usage_records
     where subscription_id in (${ids.map(() => "?").join(", ")}) and created_at >= ?
     group by subscription_id`,
    [daily, weekly, monthly, ...ids, earliest],
  );
  return new Map(
    rows.map((r) => [
      r.subscription_id,
      {
        dailyUsd: fromNumeric(r.daily),
        weeklyUsd: fromNumeric(r.weekly),
        monthlyUsd: fromNumeric(r.monthly),
      },
    ]),
  );
}
