/**
 * String keys to string values with a time-to-live: the shape of every small piece of shared, expiring state
 * (sticky bindings, response pins, lease records). Redis in production, memory for the single-replica mode.
 */
export interface ExpiringMap {
  get(key: string): Promise<string | null>;
  /** Values for several keys at once, in order; null for missing ones. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets the value only when the key is absent; true when it was set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Sets the value unless the key `blocker` exists, in one atomic step; true when it was set. */
  setUnless(key: string, value: string, ttlMs: number, blocker: string): Promise<boolean>;
  /** Moves a key's expiry to `ttlMs` from now; false when the key is gone. */
  touch(key: string, ttlMs: number): Promise<boolean>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Deletes the key only while it still holds `expected` (compare-and-delete); true when this call deleted it. */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /** Every live entry whose key starts with `prefix`, with its expiry (epoch ms), in no particular order. */
  scan(prefix: string): AsyncIterable<{ key: string; value: string; expiresAt: number }>;
}
