import type { MikroORM } from "@mikro-orm/postgresql";
import { fromNumeric, type PicoUsd } from "../../../shared/money.js";
import type { KeyRecord, SpendWindow } from "../../domain/admission/directory.js";
import { type BillingWindow, endOfBillingDay, perWindow } from "../../domain/billing/subscription-limits.js";
import { billingWindowStarts } from "../../domain/catalog/billing-windows.js";

type KeyRow = {
  key_id: string;
  key_status: string;
  expires_at: Date | string | null;
  quota_usd: string | null;
  quota_used_usd: string;
  user_id: string;
  user_status: string;
  concurrency: number;
  balance_usd: string;
  group_id: string;
  billing_mode: string;
  subscription_id: string | null;
  subscription_expires_at: Date | string | null;
  ip_allow: string[] | null;
  ip_deny: string[] | null;
  rpm_limit: number | null;
} & { [W in SpendWindowName as `spend_limit_${W}_usd`]: string | null } & {
  [W in SpendWindowName as `spent_${W}`]: string;
} & {
  [W in SpendWindowName as `oldest_${W}`]: Date | string | null;
} & { [W in BillingWindow as `${W}_limit_usd`]: string | null } & {
  [W in BillingWindow as `${W}_usage_usd`]: string;
};

/**
 * A key with its user, its group and (subscription groups) the active subscription, chosen as the ledger chooses the
 * one it bills, with its usage summed per window as the admin API sums it; and, for a key with spend limits, its
 * spend in the last 5 hours, day and 7 days with the oldest spend of each. Parameters: now, now, the daily, weekly
 * and monthly window starts, the earliest start, the 5-hour and 1-day starts (twice), the 7-day start, the key hash.
 */
const KEY_SQL = `
  select k.id as key_id, k.status as key_status, k.expires_at, k.quota_usd, k.quota_used_usd,
         u.id as user_id, u.status as user_status, u.concurrency, u.balance_usd,
         g.id as group_id, g.billing_mode, g.daily_limit_usd, g.weekly_limit_usd, g.monthly_limit_usd,
         s.id as subscription_id, s.expires_at as subscription_expires_at,
         w.daily as daily_usage_usd, w.weekly as weekly_usage_usd, w.monthly as monthly_usage_usd,
         k.ip_allow, k.ip_deny, u.rpm_limit, k.spend_limit_5h_usd, k.spend_limit_1d_usd, k.spend_limit_7d_usd,
         ks.spent_5h, ks.spent_1d, ks.spent_7d, ks.oldest_5h, ks.oldest_1d, ks.oldest_7d
  from api_keys k
  join users u on u.id = k.user_id
  join groups g on g.id = k.group_id
  left join lateral (
    select s.id, s.expires_at from subscriptions s
    where g.billing_mode = 'subscription' and s.user_id = u.id and s.group_id = g.id and s.status = 'active'
      and s.starts_at <= ? and s.expires_at > ?
    order by s.expires_at desc limit 1
  ) s on true
  cross join lateral (
    select coalesce(sum(r.total_cost_usd) filter (where r.created_at >= ?), 0) as daily,
           coalesce(sum(r.total_cost_usd) filter (where r.created_at >= ?), 0) as weekly,
           coalesce(sum(r.total_cost_usd) filter (where r.created_at >= ?), 0) as monthly
    from usage_records r
    where s.id is not null and r.subscription_id = s.id and r.created_at >= ?
  ) w
  cross join lateral (
    select coalesce(sum(r.total_cost_usd) filter (where r.created_at >= ?), 0) as spent_5h,
           coalesce(sum(r.total_cost_usd) filter (where r.created_at >= ?), 0) as spent_1d,
           coalesce(sum(r.total_cost_usd), 0) as spent_7d,
           min(r.created_at) filter (where r.created_at >= ? and r.total_cost_usd > 0) as oldest_5h,
           min(r.created_at) filter (where r.created_at >= ? and r.total_cost_usd > 0) as oldest_1d,
           min(r.created_at) filter (where r.total_cost_usd > 0) as oldest_7d
    from usage_records r
    where (k.spend_limit_5h_usd is not null or k.spend_limit_1d_usd is not null or k.spend_limit_7d_usd is not null)
      and r.key_id = k.id and r.created_at >= ?
  ) ks
  where k.key_sha256 = ?`;

type SpendWindowName = SpendWindow["name"];

/** A key's rolling spend windows, shortest first. */
const SPEND_WINDOWS: readonly { name: SpendWindowName; lengthMs: number }[] = [
  { name: "5h", lengthMs: 5 * 3_600_000 },
  { name: "1d", lengthMs: 24 * 3_600_000 },
  { name: "7d", lengthMs: 7 * 24 * 3_600_000 },
];

/** The key with this SHA-256 (hex) as of `now`, or null (statement "key.lookup"). */
export async function queryKeyRecord(
  orm: MikroORM,
  hex: string,
  now: number,
  billingTimezone: string,
): Promise<KeyRecord | null> {
  const w = billingWindowStarts(now, billingTimezone);
  const earliest = Math.min(w.daily, w.weekly, w.monthly);
  const spend = SPEND_WINDOWS.map((s) => now - s.lengthMs);
  const [h5 = now, d1 = now, d7 = now] = spend;
  const params = [now, now, w.daily, w.weekly, w.monthly, earliest, h5, d1, h5, d1, d7].map(
    (ms) => new Date(ms),
  );
  const rows = await orm.em.getConnection().execute<KeyRow[]>(KEY_SQL, [...params, Buffer.from(hex, "hex")]);
  const row = rows[0];
  return row ? toKeyRecord(row, endOfBillingDay(w.daily, billingTimezone)) : null;
}

function toKeyRecord(row: KeyRow, dayEndsAt: number): KeyRecord {
  return {
    keyId: row.key_id,
    keyStatus: row.key_status === "active" ? "active" : row.key_status === "revoked" ? "revoked" : "disabled",
    expiresAt: toMillis(row.expires_at),
    quotaUsd: optionalUsd(row.quota_usd),
    quotaUsedUsd: fromNumeric(row.quota_used_usd),
    userId: row.user_id,
    userStatus: row.user_status === "active" ? "active" : "disabled",
    userConcurrency: row.concurrency,
    balanceUsd: fromNumeric(row.balance_usd),
    groupId: row.group_id,
    billingMode: row.billing_mode === "subscription" ? "subscription" : "balance",
    limitsUsd: perWindow((w) => optionalUsd(row[`${w}_limit_usd`])),
    subscription:
      row.subscription_id === null
        ? null
        : {
            id: row.subscription_id,
            expiresAt: toMillis(row.subscription_expires_at) ?? 0,
            usageUsd: perWindow((w) => fromNumeric(row[`${w}_usage_usd`])),
            dayEndsAt,
          },
    controls: {
      ipAllow: row.ip_allow ?? [],
      ipDeny: row.ip_deny ?? [],
      userRpmLimit: row.rpm_limit ?? 0,
      spendWindows: SPEND_WINDOWS.flatMap(({ name, lengthMs }) => {
        const limit = optionalUsd(row[`spend_limit_${name}_usd`]);
        if (limit === null) return [];
        const spentUsd = fromNumeric(row[`spent_${name}`] ?? "0");
        return [{ name, lengthMs, limitUsd: limit, spentUsd, oldestAt: toMillis(row[`oldest_${name}`]) }];
      }),
    },
  };
}

function optionalUsd(value: string | null): PicoUsd | null {
  return value === null ? null : fromNumeric(value);
}

/** Raw queries get timestamptz as text (MikroORM's pg type parser), entities as Date. */
function toMillis(value: Date | string | null): number | null {
  if (value === null) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}
