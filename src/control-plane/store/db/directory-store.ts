import type { MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { OutageLog } from "../../../shared/outage-log.js";
import { waitAtMost } from "../../../shared/wait-at-most.js";
import type { AccountEntry, Directory, KeyRecord } from "../../domain/admission/directory.js";
import { KeyRecordCache } from "../../domain/billing/key-record-cache.js";
import type { SchedulableAccount } from "../../domain/catalog/account-records.js";
import { billingWindowStarts } from "../../domain/catalog/billing-windows.js";
import type { ChangeFeed } from "../../domain/change-feed.js";
import { parseChatGptCredential } from "../../domain/oauth/chatgpt-credential.js";
import type { AccountHealth, AccountPenalty, AccountView } from "../../domain/scheduling/index.js";
import { databaseUnavailable, isDatabaseUnavailable, translateDatabaseError } from "./database-errors.js";
import { queryKeyRecord } from "./key-record-query.js";

/**
 * How long a cached key record is served before it is read again: long while change notices arrive (they drop it
 * at once), one second while the change feed is down (notices may be lost, so a revocation on another replica
 * must still take effect within a second).
 */
const KEY_REFRESH_MS = 30_000;
const KEY_MAX_AGE_WITHOUT_NOTICES_MS = 1_000;
const KEY_CACHE_MAX_ENTRIES = 100_000;
/**
 * How long a request waits for its key's record to be read (ms). Past it the record last read serves; a key never
 * read gets 503. A stopped database fails at once; this bounds one that stops answering (frozen, cut off).
 */
const KEY_LOOKUP_WAIT_MS = 2_000;
/** How long an admit waits for accounts being read again before it schedules by the table it has (ms). */
const ACCOUNT_READ_WAIT_MS = 1_000;
/** How long a reroute or a release waits for its account's outcome (a penalty, a cleared streak) to be saved (ms). */
const OUTCOME_WAIT_MS = 1_000;
const ACCOUNTS_MAX_AGE_MS = 5_000;

const COOLDOWN_COLUMNS = {
  rate_limited: "rate_limited_until",
  overloaded: "overloaded_until",
  temp_unschedulable: "temp_unschedulable_until",
} as const;

/** The account catalog's read for scheduling. */
export interface AccountSource {
  listAllForScheduling(): Promise<SchedulableAccount[]>;
  /** One account; null when it no longer exists (or its credential cannot be opened). */
  getForScheduling(id: string): Promise<SchedulableAccount | null>;
}

type MutableView = { -readonly [K in keyof AccountView]: AccountView[K] };
type MutableEntry = { -readonly [K in Exclude<keyof AccountEntry, "view">]: AccountEntry[K] } & {
  view: MutableView;
};

/** Every account, by group, as loaded at `at`; views are shared so a use updates every group's entry. */
interface AccountTable {
  byGroup: Map<string, AccountEntry[]>;
  entries: Map<string, MutableEntry>;
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
  /** The last table loaded: served while the database is away. */
  #lastAccounts: AccountTable | null = null;
  readonly #outage: OutageLog;
  #accountsLoading: Promise<AccountTable> | null = null;
  /** Settles when the running load does, or ACCOUNT_READ_WAIT_MS after it began. */
  #accountsLoadingWaited: Promise<"settled" | "timed out"> = Promise.resolve("settled");
  /** Accounts being re-read after a change; `again` when another change came meanwhile. */
  readonly #refreshing = new Map<string, { again: boolean }>();
  /** The refreshes running, as reading the table waits for them (each for at most ACCOUNT_READ_WAIT_MS). */
  readonly #refreshes = new Set<Promise<unknown>>();
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
    this.#outage = new OutageLog(deps.log, "database (key and account reads)");
    this.#keys = new KeyRecordCache({
      clock: deps.clock,
      maxAgeMs: () => (deps.feed.live ? KEY_REFRESH_MS : KEY_MAX_AGE_WITHOUT_NOTICES_MS),
      negativeMaxAgeMs: KEY_MAX_AGE_WITHOUT_NOTICES_MS,
      maxEntries: KEY_CACHE_MAX_ENTRIES,
      lookup: (hex) => this.#lookupKey(hex),
      waitMs: KEY_LOOKUP_WAIT_MS,
      slow: () => {
        const err = databaseUnavailable(new Error(`key lookup unanswered after ${KEY_LOOKUP_WAIT_MS} ms`));
        this.#outage.failed(err);
        return err;
      },
    });
    this.#unsubscribe = deps.feed.subscribe((change) => {
      if (change.kind === "account") this.#refreshAccount(change.id);
      else {
        if (change.kind === "reset") this.#accounts = null;
        this.#keys.invalidate(change);
      }
    });
  }

  /** Stops listening for changes. */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * Cached (see KEY_REFRESH_MS), dropped at once when the key, its user, its group or any subscription changes on
   * any replica, and kept up to date with billed usage by deltas. While the database is away a known key is served
   * from the cache; an unknown one is answered STORE_UNAVAILABLE.
   */
  keyByHash(keySha256: Uint8Array): Promise<KeyRecord | null> {
    return this.#keys.get(Buffer.from(keySha256).toString("hex"));
  }

  /** One round trip (statement "key.lookup"): the key, its user and group, its subscription's window usage now. */
  async #lookupKey(hex: string): Promise<KeyRecord | null> {
    try {
      const record = await queryKeyRecord(this.#orm, hex, this.#clock.now(), this.#billingTimezone);
      this.#outage.ok();
      return record;
    } catch (err) {
      this.#outage.failed(err);
      return translateDatabaseError(err);
    }
  }

  async accountsOfGroup(groupId: string): Promise<readonly AccountEntry[]> {
    return (await this.#accountTable()).byGroup.get(groupId) ?? [];
  }

  /**
   * Applies the penalty to the cached view at once (this replica schedules by it even if the write fails), then
   * persists it (statement "account.outcome") and tells the other replicas. A failed write is logged, not thrown:
   * a failover must not fail because the database is away.
   */
  async recordOutcome(accountId: string, health: AccountHealth, penalty: AccountPenalty): Promise<void> {
    const entry = this.#accounts?.entries.get(accountId) ?? this.#lastAccounts?.entries.get(accountId);
    if (entry) applyOutcome(entry, health, penalty);
    const saved = this.#persistOutcome(accountId, health, penalty).then(
      () => {
        this.#outage.ok();
        this.#feed.publish({ kind: "account", id: accountId });
      },
      (err: unknown) => {
        this.#outage.failed(err);
        if (!isDatabaseUnavailable(err))
          this.#log.error({ err, statement: "account.outcome", accountId }, "account outcome not saved");
      },
    );
    // The request that caused it (a reroute, a release) waits for the write only so long: a database that hangs
    // instead of failing must not hold it. This replica schedules by the outcome already; the others learn of it
    // once the write is done.
    await waitAtMost(saved, OUTCOME_WAIT_MS);
  }

  async #persistOutcome(accountId: string, health: AccountHealth, penalty: AccountPenalty): Promise<void> {
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
  }

  touchAccount(accountId: string, at: number): void {
    this.#lastUsed.set(accountId, at);
    const entry = this.#accounts?.entries.get(accountId);
    if (entry) entry.view.lastUsedAt = at;
  }

  /**
   * The account table. One older than ACCOUNTS_MAX_AGE_MS is still answered while a reload runs in the background
   * (changes announced by the feed are applied at once, by id); only the first load is waited for.
   */
  async #accountTable(): Promise<AccountTable> {
    // An account a change names is re-read before it is scheduled again (a change made here is seen at once) — for
    // at most ACCOUNT_READ_WAIT_MS: a database that hangs instead of failing must not hold every admit.
    if (this.#refreshes.size > 0) await Promise.all(this.#refreshes);
    const cached = this.#accounts;
    if (cached && this.#clock.now() - cached.at < ACCOUNTS_MAX_AGE_MS) return cached;
    const loading = this.#reloadAccounts();
    if (cached) {
      loading.catch(() => undefined);
      return cached;
    }
    // Dropped (notices may have been lost): read again, or — ACCOUNT_READ_WAIT_MS after that read began — the last
    // table loaded, as in an outage.
    const last = this.#lastAccounts;
    if (last && (await this.#accountsLoadingWaited) === "timed out") {
      loading.catch(() => undefined);
      return last;
    }
    return loading;
  }

  #reloadAccounts(): Promise<AccountTable> {
    if (this.#accountsLoading) return this.#accountsLoading;
    this.#accountsLoading = this.#loadAccounts()
      .then(
        (table) => {
          this.#outage.ok();
          return table;
        },
        (err: unknown) => {
          this.#outage.failed(err);
          // The database is away: schedule by the last table loaded (penalties since are applied to it).
          if (this.#lastAccounts && isDatabaseUnavailable(err)) return this.#lastAccounts;
          return translateDatabaseError(err);
        },
      )
      .finally(() => {
        this.#accountsLoading = null;
      });
    this.#accountsLoadingWaited = waitAtMost(this.#accountsLoading, ACCOUNT_READ_WAIT_MS);
    return this.#accountsLoading;
  }

  /** Loads every account once and indexes it by group; this replica's recent uses refine last-used times. */
  async #loadAccounts(): Promise<AccountTable> {
    const at = this.#clock.now();
    const table: AccountTable = { byGroup: new Map(), entries: new Map(), at };
    for (const account of await this.#accountSource.listAllForScheduling()) {
      const entry = this.#entryOf(account);
      table.entries.set(account.id, entry);
      for (const groupId of account.groupIds) {
        const members = table.byGroup.get(groupId) ?? [];
        members.push(entry);
        table.byGroup.set(groupId, members);
      }
    }
    this.#accounts = table;
    this.#lastAccounts = table;
    return table;
  }

  #entryOf(account: SchedulableAccount): MutableEntry {
    const used = this.#lastUsed.get(account.id);
    const view: MutableView = {
      ...account,
      lastUsedAt: used === undefined ? account.lastUsedAt : Math.max(used, account.lastUsedAt ?? 0),
    };
    const tokens = account.type === "oauth" ? parseChatGptCredential(account.credential) : null;
    return {
      view,
      name: account.name,
      kind: account.type === "oauth" ? "chatgpt-oauth" : "openai-apikey",
      baseUrl: account.baseUrl,
      // The refresh token stays in the sealed document: only the access token is handed to data planes.
      credential: tokens ? tokens.accessToken : account.credential,
      proxyUrl: account.proxyUrl,
      health: account.health,
      oauth: tokens ? { chatgptAccountId: tokens.chatgptAccountId, expiresAt: tokens.expiresAt } : null,
    };
  }

  /**
   * An account changed on some replica: re-reads that one account into the table, rather than every account (readers
   * of the table wait for it). A full load in flight may have read the old row, so the refresh follows it; changes
   * arriving while a refresh runs get one more. A refresh that fails drops the table for a full load.
   */
  #refreshAccount(id: string): void {
    if (this.#accountsLoading) {
      void this.#accountsLoading.then(
        () => this.#refreshAccount(id),
        () => undefined,
      );
      return;
    }
    if (!this.#accounts) return; // the next load reads every account anyway
    const running = this.#refreshing.get(id);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.#refreshing.set(id, state);
    const refresh = (async () => {
      try {
        do {
          state.again = false;
          const account = await this.#accountSource.getForScheduling(id);
          this.#replaceEntry(id, account);
        } while (state.again);
        this.#outage.ok();
      } catch (err) {
        this.#outage.failed(err);
        this.#accounts = null;
      } finally {
        this.#refreshing.delete(id);
      }
    })();
    // Admits wait for it at most ACCOUNT_READ_WAIT_MS from now, not each that long again while it hangs.
    const waited = waitAtMost(refresh, ACCOUNT_READ_WAIT_MS);
    this.#refreshes.add(waited);
    void waited.then(() => this.#refreshes.delete(waited));
  }

  /** Swaps one account's entry (or removes it) in the current table; group lists are replaced, never mutated. */
  #replaceEntry(id: string, account: SchedulableAccount | null): void {
    const table = this.#accounts;
    if (!table) return;
    const entry = account ? this.#entryOf(account) : null;
    if (entry) table.entries.set(id, entry);
    else table.entries.delete(id);
    const groups = new Set([...table.byGroup.keys(), ...(account?.groupIds ?? [])]);
    for (const groupId of groups) {
      const members = (table.byGroup.get(groupId) ?? []).filter((e) => e.view.id !== id);
      if (entry && account?.groupIds.includes(groupId)) {
        members.push(entry);
        members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      }
      if (members.length > 0) table.byGroup.set(groupId, members);
      else table.byGroup.delete(groupId);
    }
  }
}

const COOLDOWN_FIELDS = {
  rate_limited: "rateLimitedUntil",
  overloaded: "overloadedUntil",
  temp_unschedulable: "tempUnschedulableUntil",
} as const;

/** The penalty as the cached view shows it (the same change the update statement makes). */
function applyOutcome(entry: MutableEntry, health: AccountHealth, penalty: AccountPenalty): void {
  entry.health = health;
  if (
    penalty.kind === "rate_limited" ||
    penalty.kind === "overloaded" ||
    penalty.kind === "temp_unschedulable"
  )
    entry.view[COOLDOWN_FIELDS[penalty.kind]] = penalty.until;
  else if (penalty.kind === "error" && entry.view.status === "active") entry.view.status = "error";
}
