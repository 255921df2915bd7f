import type { Clock } from "../../../shared/clock.js";
import type { KeyRecord } from "../admission/directory.js";
import type { Change, ChangeKind } from "../change-feed.js";

/** Changes that can alter a key record: the key itself, its user (status, balance, billed usage), its group. */
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

/**
 * The hot path's cache of key records (what eligibility is decided on), by key hash. An entry is served for at most
 * `maxAgeMs` (the fallback when a change notice is lost), and dropped at once by a change to its key, its user
 * (which is how billing announces a moved balance, quota or subscription usage) or its group; a subscription
 * change drops everything, because a new subscription's id names no cached entry. Concurrent misses on one hash
 * share one lookup, and a lookup that overlapped a change to what it read is returned but not kept, so no
 * pre-change read outlives the change.
 *
 * Unknown keys are cached as null for `maxAgeMs` without an index entry: a key cannot be looked up before it is
 * created, as its hash is of random bytes only handed out on creation.
 */
export class KeyRecordCache {
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #lookup: (keyHash: string) => Promise<KeyRecord | null>;
  readonly #entries = new Map<string, Entry>();
  /** Scope ("user:<id>", "api_key:<id>", "group:<id>") → hashes of the cached records in it. */
  readonly #index = new Map<string, Set<string>>();
  /** Lookups new callers may join; detached on any change, since what they read may predate it. */
  readonly #joinable = new Map<string, { load: Load; promise: Promise<KeyRecord | null> }>();
  readonly #inFlight = new Set<Load>();

  constructor(options: {
    clock: Clock;
    maxAgeMs: number;
    /** Past this many entries the cache starts over (bounds memory under a flood of distinct keys). */
    maxEntries: number;
    lookup: (keyHash: string) => Promise<KeyRecord | null>;
  }) {
    this.#clock = options.clock;
    this.#maxAgeMs = options.maxAgeMs;
    this.#maxEntries = options.maxEntries;
    this.#lookup = options.lookup;
  }

  /** The record for a key hash (hex), from the cache when fresh, else looked up. */
  get(keyHash: string): Promise<KeyRecord | null> {
    const now = this.#clock.now();
    const hit = this.#entries.get(keyHash);
    if (hit && now - hit.at < this.#maxAgeMs) return Promise.resolve(hit.record);
    const joined = this.#joinable.get(keyHash);
    if (joined) return joined.promise;
    return this.#load(keyHash, now);
  }

  /** Drops what a change may have made stale; changes of other kinds are ignored. */
  invalidate(change: Change): void {
    const everything = change.kind === "subscription";
    if (!everything && !SCOPED_KINDS.has(change.kind)) return;
    const scope = scopeOf(change.kind, change.id);
    for (const load of this.#inFlight) {
      if (everything) load.all = true;
      else load.dropped.add(scope);
    }
    this.#joinable.clear();
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
        const stale = load.all || (record !== null && scopesOf(record).some((s) => load.dropped.has(s)));
        if (!stale) this.#store(keyHash, record, at);
        return record;
      },
      (err: unknown) => {
        settle();
        throw err;
      },
    );
    this.#joinable.set(keyHash, { load, promise });
    return promise;
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
