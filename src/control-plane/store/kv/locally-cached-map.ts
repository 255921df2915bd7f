import type { Clock } from "../../../shared/clock.js";
import type { ExpiringMap } from "./expiring-map.js";

/** Settings of a {@link LocallyCachedMap}. */
export interface LocalCacheOptions {
  /** How long a value read or written here is answered from memory (ms). */
  ttlMs: number;
  /** Entries kept at most; the oldest go first (expired ones go anyway, read or not). */
  maxEntries: number;
  clock: Clock;
}

/**
 * An {@link ExpiringMap} whose values this replica read or wrote are answered from memory for a few seconds, so a
 * conversation's next request finds its sticky binding without a round trip to the shared store. For state where a
 * few seconds of staleness across replicas only costs a prompt-cache miss (sticky bindings and response pins), never
 * for lease records. Misses are not remembered: a binding another replica creates is seen on the next read.
 * Entries past their local TTL are dropped as new ones arrive, whether read or not: most response pins are never read
 * again, and keeping them until `maxEntries` pushed the heap up by ~200 bytes per request.
 */
export class LocallyCachedMap implements ExpiringMap {
  readonly #shared: ExpiringMap;
  readonly #options: LocalCacheOptions;
  /** Insertion-ordered, so the first entries are the oldest. */
  readonly #local = new Map<string, { value: string; until: number }>();

  constructor(shared: ExpiringMap, options: LocalCacheOptions) {
    this.#shared = shared;
    this.#options = options;
  }

  /** Entries held in memory now. */
  get size(): number {
    return this.#local.size;
  }

  async get(key: string): Promise<string | null> {
    const [value = null] = await this.getMany([key]);
    return value;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    const now = this.#options.clock.now();
    const values = keys.map((key) => this.#fresh(key, now));
    const missing = keys.filter((_, i) => values[i] === null);
    if (missing.length === 0) return values;
    const fetched = await this.#shared.getMany(missing);
    let next = 0;
    return values.map((value, i) => {
      if (value !== null) return value;
      const read = fetched[next++] ?? null;
      if (read !== null) this.#remember(keys[i] as string, read, now);
      return read;
    });
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#shared.set(key, value, ttlMs);
    this.#remember(key, value, this.#options.clock.now(), ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.#local.delete(key);
    return this.#shared.setIfAbsent(key, value, ttlMs);
  }

  async setUnless(key: string, value: string, ttlMs: number, blocker: string): Promise<boolean> {
    this.#local.delete(key);
    return this.#shared.setUnless(key, value, ttlMs, blocker);
  }

  touch(key: string, ttlMs: number): Promise<boolean> {
    return this.#shared.touch(key, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    this.#local.delete(key);
    return this.#shared.delete(key);
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    this.#local.delete(key);
    return this.#shared.deleteIfEquals(key, expected);
  }

  scan(prefix: string): AsyncIterable<{ key: string; value: string; expiresAt: number }> {
    return this.#shared.scan(prefix);
  }

  #fresh(key: string, now: number): string | null {
    const entry = this.#local.get(key);
    if (!entry) return null;
    if (entry.until > now) return entry.value;
    this.#local.delete(key);
    return null;
  }

  #remember(key: string, value: string, now: number, ttlMs = Number.POSITIVE_INFINITY): void {
    this.#local.delete(key);
    this.#local.set(key, { value, until: now + Math.min(this.#options.ttlMs, ttlMs) });
    // The oldest first: expired ones, then any beyond the cap. Each entry is dropped once, so this stays O(1) per
    // call on average. (An entry with a shorter TTL than the local one may wait behind an older live one.)
    for (const [oldest, entry] of this.#local) {
      if (entry.until > now && this.#local.size <= this.#options.maxEntries) break;
      this.#local.delete(oldest);
    }
  }
}
