import type { Clock } from "../../shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";

/** Limits of an {@link AuthFailureLimiter}; the defaults are BEHAVIOUR.md's. */
export interface AuthFailureLimiterOptions {
  clock: Clock;
  /** Failures within one window that block the client (default 120). */
  maxFailures?: number;
  /** Window length, from the window's first failure (default 60 s). */
  windowMs?: number;
  /** How long a blocked client is refused (default 60 s). */
  blockMs?: number;
  /** Clients tracked at once; past it the entry with the oldest window is dropped (default 100 000). */
  maxTrackedClients?: number;
}

interface ClientFailures {
  windowStart: number;
  failures: number;
  /** 0 while not blocked. */
  blockedUntil: number;
}

/** Entries examined for expiry per new window: keeps the map clean in amortised O(1) without a timer. */
const SWEEP_PER_INSERT = 2;

/**
 * Refuses clients (by IP) that keep presenting bad API keys. Fixed window anchored at a client's first failure:
 * the `maxFailures`-th failure within `windowMs` of it blocks the client for `blockMs` from that failure; a
 * failure at or after the window's end starts a new window. (A fixed window admits at most twice the limit in a
 * span straddling two windows; an exact sliding log would cost ~1 KB per client.) Memory is bounded: entries
 * live in a Map ordered by window start, expired ones are swept from the front as new windows open, and past the
 * cap the oldest is dropped. There is deliberately no "success resets" call: one valid key in hand must not
 * reset the count of guesses at other keys.
 */
export class AuthFailureLimiter {
  readonly #clock: Clock;
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #blockMs: number;
  readonly #maxTracked: number;
  readonly #clients = new Map<string, ClientFailures>();

  constructor(options: AuthFailureLimiterOptions) {
    this.#clock = options.clock;
    this.#maxFailures = options.maxFailures ?? 120;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#blockMs = options.blockMs ?? 60_000;
    this.#maxTracked = Math.max(1, options.maxTrackedClients ?? 100_000);
  }

  /**
   * Throws AUTH_RATE_LIMITED (429) while `ip` is blocked, with `retryAfterMs` the time left of the block
   * (the full `blockMs` right after blocking). Call before looking at the credentials.
   */
  check(ip: string): void {
    const entry = this.#clients.get(ip);
    if (entry === undefined || entry.blockedUntil === 0) return;
    const now = this.#clock.now();
    if (now < entry.blockedUntil) {
      throw new SwitchyardError(ErrorCode.AUTH_RATE_LIMITED, { retryAfterMs: entry.blockedUntil - now });
    }
    this.#clients.delete(ip);
  }

  /** Counts one failed authentication from `ip` (missing, malformed or unknown key). Ignored while blocked. */
  recordFailure(ip: string): void {
    const now = this.#clock.now();
    let entry = this.#clients.get(ip);
    if (entry !== undefined && now < entry.blockedUntil) return;
    if (entry === undefined || entry.blockedUntil !== 0 || now >= entry.windowStart + this.#windowMs) {
      // Re-inserting keeps the Map ordered by window start, which is what the sweep and eviction rely on.
      if (entry !== undefined) this.#clients.delete(ip);
      this.#sweep(now);
      if (this.#clients.size >= this.#maxTracked) this.#evictOldest();
      entry = { windowStart: now, failures: 0, blockedUntil: 0 };
      this.#clients.set(ip, entry);
    }
    entry.failures += 1;
    if (entry.failures >= this.#maxFailures) entry.blockedUntil = now + this.#blockMs;
  }

  /** Clients currently tracked (for metrics and tests). */
  get trackedClients(): number {
    return this.#clients.size;
  }

  #sweep(now: number): void {
    let examined = 0;
    for (const [ip, entry] of this.#clients) {
      if (examined++ >= SWEEP_PER_INSERT || !this.#expired(entry, now)) return;
      this.#clients.delete(ip);
    }
  }

  #expired(entry: ClientFailures, now: number): boolean {
    return now >= entry.windowStart + this.#windowMs && now >= entry.blockedUntil;
  }

  #evictOldest(): void {
    const oldest = this.#clients.keys().next();
    if (!oldest.done) this.#clients.delete(oldest.value);
  }
}
