import type { MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { fromNumeric } from "../../../shared/money.js";
import type { AccountEntry, Directory, KeyRecord } from "../../domain/admission/directory.js";
import type { ChangeFeed } from "../../domain/change-feed.js";
import type { CredentialCipher } from "../../domain/credential-cipher.js";
import type { AccountHealth, AccountPenalty, AccountStatus } from "../../domain/scheduling/index.js";
import { CLEAN_HEALTH } from "../../domain/scheduling/index.js";

/** How long a cached key or account list may be served without a change notice; bounds staleness on any replica. */
const KEY_MAX_AGE_MS = 1_000;
const ACCOUNTS_MAX_AGE_MS = 5_000;

interface KeyRow {
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
  has_subscription: boolean;
}

interface AccountRow {
  id: string;
  name: string;
  platform: string;
  type: string;
  base_url: string;
  credential_ciphertext: string;
  credential_key_id: string;
  proxy_url: string;
  concurrency: number;
  priority: number;
  model_mapping: Record<string, string>;
  group_ids: string[];
  status: string;
  schedulable: boolean;
  rate_limited_until: Date | string | null;
  overloaded_until: Date | string | null;
  temp_unschedulable_until: Date | string | null;
  health: AccountHealth | null;
  last_used_at: Date | string | null;
}

const COOLDOWN_COLUMNS = {
  rate_limited: "rate_limited_until",
  overloaded: "overloaded_until",
  temp_unschedulable: "temp_unschedulable_until",
} as const;

const KEY_SQL = `
  select k.id as key_id, k.status as key_status, k.expires_at, k.quota_usd, k.quota_used_usd,
         u.id as user_id, u.status as user_status, u.concurrency, u.balance_usd,
         g.id as group_id, g.billing_mode,
         exists (select 1 from subscriptions s where s.user_id = u.id and s.group_id = g.id
                 and s.status = 'active' and s.starts_at <= now() and s.expires_at > now()) as has_subscription
  from api_keys k join users u on u.id = k.user_id join groups g on g.id = k.group_id
  where k.key_sha256 = ?`;

/**
 * The hot path's read model over PostgreSQL: keys and accounts cached in memory, dropped on a change notice and
 * after a short max-age, so a revoked key stops working within a second on every replica even if a notice is lost.
 */
export class PostgresDirectory implements Directory {
  readonly #orm: MikroORM;
  readonly #cipher: CredentialCipher;
  readonly #feed: ChangeFeed;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #keys = new Map<string, { record: KeyRecord | null; at: number }>();
  #accounts: { entries: AccountEntry[]; at: number } | null = null;
  #accountsLoading: Promise<AccountEntry[]> | null = null;
  readonly #lastUsed = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    orm: MikroORM;
    cipher: CredentialCipher;
    feed: ChangeFeed;
    clock: Clock;
    log: Logger;
  }) {
    this.#orm = deps.orm;
    this.#cipher = deps.cipher;
    this.#feed = deps.feed;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#unsubscribe = deps.feed.subscribe((change) => {
      if (change.kind === "account") this.#accounts = null;
      if (["api_key", "user", "group", "subscription"].includes(change.kind)) this.#keys.clear();
    });
  }

  /** Stops listening for changes. */
  close(): void {
    this.#unsubscribe();
  }

  async keyByHash(keySha256: Uint8Array): Promise<KeyRecord | null> {
    const hex = Buffer.from(keySha256).toString("hex");
    const now = this.#clock.now();
    const cached = this.#keys.get(hex);
    if (cached && now - cached.at < KEY_MAX_AGE_MS) return cached.record;
    const rows = await this.#orm.em.getConnection().execute<KeyRow[]>(KEY_SQL, [Buffer.from(keySha256)]);
    const row = rows[0];
    const record = row ? toKeyRecord(row) : null;
    if (this.#keys.size > 100_000) this.#keys.clear();
    this.#keys.set(hex, { record, at: now });
    return record;
  }

  async accountsOfGroup(groupId: string): Promise<readonly AccountEntry[]> {
    const all = await this.#allAccounts();
    return all.filter((a) => a.view.groupIds.includes(groupId));
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
  }

  async #allAccounts(): Promise<AccountEntry[]> {
    const cached = this.#accounts;
    if (cached && this.#clock.now() - cached.at < ACCOUNTS_MAX_AGE_MS)
      return this.#withLastUsed(cached.entries);
    this.#accountsLoading ??= this.#loadAccounts().finally(() => {
      this.#accountsLoading = null;
    });
    return this.#withLastUsed(await this.#accountsLoading);
  }

  async #loadAccounts(): Promise<AccountEntry[]> {
    const at = this.#clock.now();
    const rows = await this.#orm.em.getConnection().execute<AccountRow[]>("select * from accounts");
    const entries = rows.flatMap((row) => {
      try {
        return [this.#toEntry(row)];
      } catch (err) {
        this.#log.error(
          { err, accountId: row.id },
          "account credential cannot be decrypted; account skipped",
        );
        return [];
      }
    });
    this.#accounts = { entries, at };
    return entries;
  }

  #withLastUsed(entries: AccountEntry[]): AccountEntry[] {
    if (this.#lastUsed.size === 0) return entries;
    return entries.map((e) => {
      const used = this.#lastUsed.get(e.view.id);
      return used === undefined
        ? e
        : { ...e, view: { ...e.view, lastUsedAt: Math.max(used, e.view.lastUsedAt ?? 0) } };
    });
  }

  #toEntry(row: AccountRow): AccountEntry {
    return {
      view: {
        id: row.id,
        platform: row.platform,
        type: row.type === "oauth" ? "oauth" : "apikey",
        priority: row.priority,
        concurrency: row.concurrency,
        modelMapping: row.model_mapping ?? {},
        groupIds: row.group_ids ?? [],
        status: (["active", "disabled", "error"].includes(row.status)
          ? row.status
          : "disabled") as AccountStatus,
        schedulable: row.schedulable,
        expiresAt: null,
        rateLimitedUntil: toMillis(row.rate_limited_until),
        overloadedUntil: toMillis(row.overloaded_until),
        tempUnschedulableUntil: toMillis(row.temp_unschedulable_until),
        lastUsedAt: toMillis(row.last_used_at),
      },
      name: row.name,
      kind: row.type === "oauth" ? "chatgpt-oauth" : "openai-apikey",
      baseUrl: row.base_url,
      credential: this.#cipher.open({ keyId: row.credential_key_id, ciphertext: row.credential_ciphertext }),
      proxyUrl: row.proxy_url,
      health: row.health ?? CLEAN_HEALTH,
    };
  }
}

function toKeyRecord(row: KeyRow): KeyRecord {
  return {
    keyId: row.key_id,
    keyStatus: row.key_status === "active" ? "active" : row.key_status === "revoked" ? "revoked" : "disabled",
    expiresAt: toMillis(row.expires_at),
    quotaUsd: row.quota_usd === null ? null : fromNumeric(row.quota_usd),
    quotaUsedUsd: fromNumeric(row.quota_used_usd),
    userId: row.user_id,
    userStatus: row.user_status === "active" ? "active" : "disabled",
    userConcurrency: row.concurrency,
    balanceUsd: fromNumeric(row.balance_usd),
    groupId: row.group_id,
    billingMode: row.billing_mode === "subscription" ? "subscription" : "balance",
    hasActiveSubscription: row.has_subscription,
  };
}

/** Raw queries get timestamptz as text (MikroORM's pg type parser), entities as Date. */
function toMillis(value: Date | string | null): number | null {
  if (value === null) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}
