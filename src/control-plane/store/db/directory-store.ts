import type { MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { fromNumeric, type PicoUsd } from "../../../shared/money.js";
import type { AccountEntry, Directory, KeyRecord } from "../../domain/admission/directory.js";
import { KeyRecordCache } from "../../domain/billing/key-record-cache.js";
import { type BillingWindow, endOfBillingDay, perWindow } from "../../domain/billing/subscription-limits.js";
import type { SchedulableAccount } from "../../domain/catalog/account-records.js";
import { billingWindowStarts } from "../../domain/catalog/billing-windows.js";
import type { ChangeFeed } from "../../domain/change-feed.js";
import type { AccountHealth, AccountPenalty, AccountView } from "../../domain/scheduling/index.js";

/** How long a cached key or account list may be served without a change notice; bounds staleness on any replica. */
const KEY_MAX_AGE_MS = 1_000;
const KEY_CACHE_MAX_ENTRIES = 100_000;
const ACCOUNTS_MAX_AGE_MS = 5_000;

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
} & { [W in BillingWindow as `${W}_limit_usd`]: string | null } & {
  [W in BillingWindow as `${W}_usage_usd`]: string;
};

const COOLDOWN_COLUMNS = {
  rate_limited: "rate_limited_until",
  overloaded: "overloaded_until",
  temp_unschedulable: "temp_unschedulable_until",
} as const;

/**
 * A key with its user, its group and (subscription groups) the active subscription, chosen as the ledger chooses the
 * one it bills, with its usage summed per window as the admin API sums it. Parameters: now, now, the daily, weekly
 * and monthly window starts, the earliest start, the key hash.
 */
const KEY_SQL = `
  select k.id as key_id, k.status as key_status, k.expires_at, k.quota_usd, k.quota_used_usd,
         u.id as user_id, u.status as user_status, u.concurrency, u.balance_usd,
         g.id as group_id, g.billing_mode, g.daily_limit_usd, g.weekly_limit_usd, g.monthly_limit_usd,
         s.id as subscription_id, s.expires_at as subscription_expires_at,
         w.daily as daily_usage_usd, w.weekly as weekly_usage_usd, w.monthly as monthly_usage_usd
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
  where k.key_sha256 = ?`;

/** The account catalog's read for scheduling. */
export interface AccountSource {
  listAllForScheduling(): Promise<SchedulableAccount[]>;
}

type MutableView = { -readonly [K in keyof AccountView]: AccountView[K] };

/** Every account, by group, as loaded at `at`; views are shared so a use updates every group's entry. */
interface AccountTable {
  byGroup: Map<string, AccountEntry[]>;
  views: Map<string, MutableView>;
  at: number;
}

/**
 * The hot path's read model over PostgreSQL: keys and accounts cached in memory, dropped on a change notice and
 * after a short max-age, so a revoked key stops working within a second on every replica even if a notice is lost.
 */
export class PostgresDirectory implements Directory {
  readonly #orm: MikroORM;
  readonly #accountSource: AccountSource;
  readonly #feed: ChangeFeed;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #billingTimezone: string;
  readonly #keys: KeyRecordCache;
  #accounts: AccountTable | null = null;
  #accountsLoading: Promise<AccountTable> | null = null;
  readonly #lastUsed = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    orm: MikroORM;
    /** Where accounts come from, credentials opened (the account catalog). */
    accounts: AccountSource;
    feed: ChangeFeed;
    clock: Clock;
    log: Logger;
    /** IANA zone of the subscription "calendar day" (SWITCHYARD_BILLING_TIMEZONE); default "UTC". */
    billingTimezone?: string;
  }) {
    this.#orm = deps.orm;
    this.#accountSource = deps.accounts;
    this.#feed = deps.feed;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#billingTimezone = deps.billingTimezone ?? "UTC";
    billingWindowStarts(deps.clock.now(), this.#billingTimezone); // a bad zone fails here, not on the hot path
    this.#keys = new KeyRecordCache({
      clock: deps.clock,
      maxAgeMs: KEY_MAX_AGE_MS,
      maxEntries: KEY_CACHE_MAX_ENTRIES,
      lookup: (hex) => this.#lookupKey(hex),
    });
    this.#unsubscribe = deps.feed.subscribe((change) => {
      if (change.kind === "account") this.#accounts = null;
      else this.#keys.invalidate(change);
    });
  }

  /** Stops listening for changes. */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * Cached for at most a second, and dropped at once when the key, its user (a billed request, a balance set), its
   * group or any subscription changes, on any replica.
   */
  keyByHash(keySha256: Uint8Array): Promise<KeyRecord | null> {
    return this.#keys.get(Buffer.from(keySha256).toString("hex"));
  }

  /** One round trip: the key, its user and group, and its subscription's window usage as of now. */
  async #lookupKey(hex: string): Promise<KeyRecord | null> {
    const now = this.#clock.now();
    const w = billingWindowStarts(now, this.#billingTimezone);
    const earliest = Math.min(w.daily, w.weekly, w.monthly);
    const params = [now, now, w.daily, w.weekly, w.monthly, earliest].map((ms) => new Date(ms));
    const rows = await this.#orm.em
      .getConnection()
      .execute<KeyRow[]>(KEY_SQL, [...params, Buffer.from(hex, "hex")]);
    const row = rows[0];
    return row ? toKeyRecord(row, endOfBillingDay(w.daily, this.#billingTimezone)) : null;
  }

  async accountsOfGroup(groupId: string): Promise<readonly AccountEntry[]> {
    return (await this.#accountTable()).byGroup.get(groupId) ?? [];
  }

  async recordOutcome(accountId: string, health: AccountHealth, penalty: AccountPenalty): Promise<void> {
    const sets = ["health = ?::jsonb", "updated_at = now()"];
    const params: unknown[] = [JSON.stringify(health)];
    if (
      penalty.kind === "rate_limited" ||
      penalty.kind === "overloaded" ||
      penalty.kind === "temp_unschedulable"
    ) {
      sets.push(`${COOLDOWN_COLUMNS[penalty.kind]} = ?`, "status_reason = ?");
      params.push(new Date(penalty.until), penalty.reason);
    } else if (penalty.kind === "error") {
      sets.push("status = case when status = 'active' then 'error' else status end", "status_reason = ?");
      params.push(penalty.reason);
    }
    await this.#orm.em
      .getConnection()
      .execute(`update accounts set ${sets.join(", ")} where id = ?`, [...params, accountId]);
    this.#accounts = null;
    this.#feed.publish({ kind: "account", id: accountId });
  }

  touchAccount(accountId: string, at: number): void {
    this.#lastUsed.set(accountId, at);
    const view = this.#accounts?.views.get(accountId);
    if (view) view.lastUsedAt = at;
  }

  async #accountTable(): Promise<AccountTable> {
    const cached = this.#accounts;
    if (cached && this.#clock.now() - cached.at < ACCOUNTS_MAX_AGE_MS) return cached;
    this.#accountsLoading ??= this.#loadAccounts().finally(() => {
      this.#accountsLoading = null;
    });
    return this.#accountsLoading;
  }

  /** Loads every account once and indexes it by group; this replica's recent uses refine last-used times. */
  async #loadAccounts(): Promise<AccountTable> {
    const at = this.#clock.now();
    const table: AccountTable = { byGroup: new Map(), views: new Map(), at };
    for (const account of await this.#accountSource.listAllForScheduling()) {
      const used = this.#lastUsed.get(account.id);
      const view: MutableView = {
        ...account,
        lastUsedAt: used === undefined ? account.lastUsedAt : Math.max(used, account.lastUsedAt ?? 0),
      };
      const entry: AccountEntry = {
        view,
        name: account.name,
        kind: account.type === "oauth" ? "chatgpt-oauth" : "openai-apikey",
        baseUrl: account.baseUrl,
        credential: account.credential,
        proxyUrl: account.proxyUrl,
        health: account.health,
      };
      table.views.set(account.id, view);
      for (const groupId of account.groupIds) {
        const members = table.byGroup.get(groupId) ?? [];
        members.push(entry);
        table.byGroup.set(groupId, members);
      }
    }
    this.#accounts = table;
    return table;
  }
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
