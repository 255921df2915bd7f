import type { Clock } from "../../../shared/clock.js";
import type { ExpiringMap } from "./expiring-map.js";

/** {@link ExpiringMap} in process memory; entries lapse by the injected clock and are dropped when read. */
export class MemoryExpiringMap implements ExpiringMap {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #clock: Clock;
  #writes = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async get(key: string): Promise<string | null> {
    return this.#live(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.#live(k)?.value ?? null);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#clock.now() + ttlMs });
    if (++this.#writes % 1024 === 0) this.#sweep();
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async setUnless(key: string, value: string, ttlMs: number, blocker: string): Promise<boolean> {
    if (this.#live(blocker)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.#live(key);
    if (!entry) return false;
    entry.expiresAt = this.#clock.now() + ttlMs;
    return true;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.#live(key) !== undefined;
    this.#entries.delete(key);
    return existed;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    if (this.#live(key)?.value !== expected) return false;
    this.#entries.delete(key);
    return true;
  }

  async *scan(prefix: string): AsyncIterable<{ key: string; value: string; expiresAt: number }> {
    for (const key of [...this.#entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const entry = this.#live(key);
      if (entry) yield { key, value: entry.value, expiresAt: entry.expiresAt };
    }
  }

  #live(key: string): { value: string; expiresAt: number } | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Drops lapsed entries now and then so keys never read again do not pile up. */
  #sweep(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}
