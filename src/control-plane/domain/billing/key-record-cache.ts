import type { Clock } from "../../../shared/clock.js";
import { waitAtMost } from "../../../shared/wait-at-most.js";
import type { KeyControls, KeyRecord } from "../admission/directory.js";
import type { BilledUsage, Change, ChangeKind } from "../change-feed.js";
import { perWindow } from "./subscription-limits.js";

/** Changes that can alter a key record: the key itself, its user (status, balance set by an admin), its group. */
const SCOPED_KINDS: ReadonlySet<ChangeKind> = new Set(["api_key", "user", "group"]);

interface Entry {
  record: KeyRecord | null;
  at: number;
}

/** A lookup in flight, and the changes that arrived while it ran (its result may predate them). */
interface Load {
  readonly dropped: Set<string>;
  all: boolean;
}

const scopeOf = (kind: ChangeKind, id: string): string => `${kind}:${id}`;

function scopesOf(record: KeyRecord): string[] {
  return [scopeOf("api_key", record.keyId), scopeOf("user", record.userId), scopeOf("group", record.groupId)];
}

/** A key's spend windows after it spent `amount` now (a window with no spend yet starts counting from now). */
function withSpend(controls: KeyControls, amount: bigint, now: number): KeyControls {
  if (controls.spendWindows.length === 0 || amount === 0n) return controls;
  return {
    ...controls,
    spendWindows: controls.spendWindows.map((w) => ({
      ...w,
      spentUsd: w.spentUsd + amount,
      oldestAt: w.oldestAt ?? now,
    })),
  };
}

/** Options of {@link KeyRecordCache}. */
export interface KeyRecordCacheOptions {
  clock: Clock;
  /**
   * How long a record is served before it is read again. A function, so it can be long while change notices are
   * known to arrive and short while they may be lost.
   */
  maxAgeMs: number | (() => number);
  /** How long an unknown key is remembered as unknown (default: the same as `maxAgeMs`, at most 1 s). */
  negativeMaxAgeMs?: number;
  /** Past this many entries the cache starts over (bounds memory under a flood of distinct keys). */
  maxEntries: number;
  lookup: (keyHash: string) => Promise<KeyRecord | null>;
  /**
   * How long a caller waits for a lookup (ms; default: as long as it takes). Past it the caller gets the record last
   * read, or `slow()` as its error when there is none — a database that stops answering without failing (frozen,
   * cut off) must not hold requests until it is back. The lookup goes on; its answer is kept when it comes.
   */
  waitMs?: number;
  /** The error for a caller whose lookup outlasted `waitMs` with no record to fall back on. */
  slow?: () => Error;
}

/**
 * The hot path's cache of key records (what eligibility is decided on), by key hash. A record is dropped at once by
 * an administrative change to its key, its user or its group (a subscription change drops everything, because a new
 * subscription's id names no cached entry); billed usage does not drop it — the ledger announces the money moved and
 * the cache applies it as a delta, so busy keys are not re-read per request. Past `maxAgeMs` a record is read again;
 * when that read fails (the database is away) the last record is served, so known keys keep working through a
 * database outage. Concurrent misses on one hash share one lookup, and a lookup that overlapped a change to what it
 * read is returned but not kept, so no pre-change read outlives the change.
 *
 * Unknown keys are cached as null without an index entry, for at most a second: an issued key cannot be looked up
 * before it is created (its hash is of random bytes only handed out on creation), and an imported one works within
 * that second of its import.
 */
export class KeyRecordCache {
  readonly #clock: Clock;
  readonly #maxAgeMs: () => number;
  readonly #negativeMaxAgeMs: number | undefined;
  readonly #maxEntries: number;
  readonly #lookup: (keyHash: string) => Promise<KeyRecord | null>;
  readonly #waitMs: number | undefined;
  readonly #slow: () => Error;
  readonly #entries = new Map<string, Entry>();
  /** Scope ("user:<id>", "api_key:<id>", "group:<id>") → hashes of the cached records in it. */
  readonly #index = new Map<string, Set<string>>();
  /** Lookups new callers may join; detached on any change, since what they read may predate it. */
  readonly #joinable = new Map<string, { load: Load; promise: Promise<KeyRecord | null> }>();
  readonly #inFlight = new Set<Load>();

  constructor(options: KeyRecordCacheOptions) {
    this.#clock = options.clock;
    const maxAge = options.maxAgeMs;
    this.#maxAgeMs = typeof maxAge === "number" ? () => maxAge : maxAge;
    this.#negativeMaxAgeMs = options.negativeMaxAgeMs;
    this.#maxEntries = options.maxEntries;
    this.#lookup = options.lookup;
    this.#waitMs = options.waitMs;
    this.#slow = options.slow ?? (() => new Error("key lookup too slow"));
  }

  /**
   * The record for a key hash (hex), from the cache when fresh, else looked up (the stale one if that fails, or
   * takes longer than `waitMs`). A record past its age whose lookup is already running is served as it is.
   */
  get(keyHash: string): Promise<KeyRecord | null> {
    const now = this.#clock.now();
    const hit = this.#entries.get(keyHash);
    if (hit && now - hit.at < this.#ageLimit(hit)) return Promise.resolve(hit.record);
    const joined = this.#joinable.get(keyHash);
    if (joined && hit?.record) return Promise.resolve(hit.record);
    return this.#bounded(keyHash, joined ? joined.promise : this.#load(keyHash, now));
  }

  /** Applies a change: drops what it may have made stale, or applies billed usage; other kinds are ignored. */
  invalidate(change: Change): void {
    if (change.kind === "usage_billed" && change.billed) {
      this.#applyBilled(change.id, change.billed);
      return;
    }
    if (change.kind === "reset") {
      this.#expireAll();
      return;
    }
    const everything = change.kind === "subscription";
    if (!everything && !SCOPED_KINDS.has(change.kind)) return;
    const scope = scopeOf(change.kind, change.id);
    this.#detachLoads(everything ? null : scope);
    if (everything) {
      this.#clear();
      return;
    }
    for (const hash of [...(this.#index.get(scope) ?? [])]) this.#drop(hash);
  }

  /** Cached entries (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #ageLimit(entry: Entry): number {
    const maxAge = this.#maxAgeMs();
    return entry.record === null ? Math.min(maxAge, this.#negativeMaxAgeMs ?? 1_000) : maxAge;
  }

  /**
   * The user's cached records after `billed` moved money: the balance (balance groups), the key's quota used and
   * spend windows, and the subscription's windows. A record whose billing day has ended is dropped instead (its daily figure restarts).
   */
  #applyBilled(userId: string, billed: BilledUsage): void {
    let amount: bigint;
    try {
      amount = BigInt(billed.amountPico);
    } catch {
      this.invalidate({ kind: "user", id: userId });
      return;
    }
    const scope = scopeOf("user", userId);
    this.#detachLoads(scope);
    const now = this.#clock.now();
    for (const hash of [...(this.#index.get(scope) ?? [])]) {
      const entry = this.#entries.get(hash);
      const r = entry?.record;
      if (!entry || !r) continue;
      const sub = r.subscription;
      if (sub && sub.id === billed.subscriptionId && now >= sub.dayEndsAt) {
        this.#drop(hash);
        continue;
      }
      entry.record = {
        ...r,
        balanceUsd: billed.fromBalance ? r.balanceUsd - amount : r.balanceUsd,
        quotaUsedUsd: r.keyId === billed.keyId ? r.quotaUsedUsd + amount : r.quotaUsedUsd,
        subscription:
          sub && sub.id === billed.subscriptionId
            ? { ...sub, usageUsd: perWindow((w) => sub.usageUsd[w] + amount) }
            : sub,
        controls: r.keyId === billed.keyId ? withSpend(r.controls, amount, now) : r.controls,
      };
    }
  }

  /** Lookups in flight may have read before a change to `scope` (null: to anything): not kept, not joinable. */
  #detachLoads(scope: string | null): void {
    for (const load of this.#inFlight) {
      if (scope === null) load.all = true;
      else load.dropped.add(scope);
    }
    this.#joinable.clear();
  }

  /**
   * Notices may have been lost: every record is read again before it is served — but kept as the fallback while the
   * database is away (no notice can have revoked anything then: revoking needs the database).
   */
  #expireAll(): void {
    this.#detachLoads(null);
    for (const entry of this.#entries.values()) entry.at = Number.NEGATIVE_INFINITY;
  }

  #load(keyHash: string, at: number): Promise<KeyRecord | null> {
    const load: Load = { dropped: new Set(), all: false };
    this.#inFlight.add(load);
    const settle = () => {
      this.#inFlight.delete(load);
      if (this.#joinable.get(keyHash)?.load === load) this.#joinable.delete(keyHash);
    };
    const promise = this.#lookup(keyHash).then(
      (record) => {
        settle();
        const dropped = load.all || (record !== null && scopesOf(record).some((s) => load.dropped.has(s)));
        if (!dropped) this.#store(keyHash, record, at);
        return record;
      },
      (err: unknown) => {
        settle();
        // The store is away: a known key keeps working on what was last read (nothing changed it since, or the
        // change would have dropped it).
        const kept = this.#entries.get(keyHash)?.record;
        if (kept) return kept;
        throw err;
      },
    );
    this.#joinable.set(keyHash, { load, promise });
    return promise;
  }

  /** `lookup`, or past `waitMs` the record last read (the error of `slow` when there is none). */
  async #bounded(keyHash: string, lookup: Promise<KeyRecord | null>): Promise<KeyRecord | null> {
    if (this.#waitMs === undefined || (await waitAtMost(lookup, this.#waitMs)) === "settled") return lookup;
    const kept = this.#entries.get(keyHash)?.record;
    if (kept) return kept;
    throw this.#slow();
  }

  #store(keyHash: string, record: KeyRecord | null, at: number): void {
    this.#drop(keyHash);
    if (this.#entries.size >= this.#maxEntries) this.#clear();
    this.#entries.set(keyHash, { record, at });
    if (record === null) return;
    for (const scope of scopesOf(record)) {
      const hashes = this.#index.get(scope) ?? new Set<string>();
      hashes.add(keyHash);
      this.#index.set(scope, hashes);
    }
  }

  #drop(keyHash: string): void {
    const entry = this.#entries.get(keyHash);
    if (!entry) return;
    this.#entries.delete(keyHash);
    if (entry.record === null) return;
    for (const scope of scopesOf(entry.record)) {
      const hashes = this.#index.get(scope);
      hashes?.delete(keyHash);
      if (hashes?.size === 0) this.#index.delete(scope);
    }
  }

  #clear(): void {
    this.#entries.clear();
    this.#index.clear();
  }
}
