/**
 * Counts requests per key in a rolling window (a user's requests per minute). Redis with several replicas, memory
 * for the single-replica mode.
 */
export interface RequestRate {
  /**
   * Counts request `id` against `key` when fewer than `limit` were counted in the last `windowMs` (a repeated id is
   * counted once). Returns 0 when counted, else the milliseconds until the oldest counted request leaves the window.
   */
  take(key: string, id: string, limit: number, windowMs: number, now: number): Promise<number>;
}
