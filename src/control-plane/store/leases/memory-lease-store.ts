import { type Clock, systemClock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { ExpiryListeners } from "./expiry-listeners.js";
import {
  type AcquireRequest,
  type AcquireResult,
  assertAcquireRequest,
  assertPairRequest,
  assertSlotRef,
  assertTtl,
  type ExpiredListener,
  type LeaseStore,
  type PairRequest,
  type PairResult,
  type SlotLoad,
  storeClosed,
} from "./lease-store.js";
import { PendingWait } from "./pending-wait.js";

/** Options for {@link MemoryLeaseStore}. */
export interface MemoryLeaseStoreOptions {
  /** Lease expiry is read from this clock; wait timeouts use real timers. */
  clock?: Clock;
  log?: Logger;
  /**
   * While a key has waiters, it is re-examined at its earliest holder expiry and at least this often (ms), so a
   * holder that vanished hands its slot on without any other touch. Default 1000.
   */
  recheckIntervalMs?: number;
}

interface QueuedAcquire {
  readonly holder: string;
  readonly ttlMs: number;
  readonly wait: PendingWait;
}

interface SlotState {
  /** holder → expiry (clock ms). */
  readonly holders: Map<string, number>;
  /** token → waiter, in arrival order (Map iteration order). */
  readonly queue: Map<string, QueuedAcquire>;
  limit: number;
  recheck: NodeJS.Timeout | undefined;
}

/**
 * The in-process {@link LeaseStore} for the single-replica mode: the same semantics as the Redis store, with
 * every step synchronous (so each one is atomic by construction).
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly #slots = new Map<string, SlotState>();
  readonly #clock: Clock;
  readonly #listeners: ExpiryListeners;
  readonly #recheckIntervalMs: number;
  #nextToken = 0;
  #closed = false;

  constructor(options: MemoryLeaseStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#listeners = new ExpiryListeners(options.log);
    this.#recheckIntervalMs = options.recheckIntervalMs ?? 1000;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertOpen();
    assertAcquireRequest(request);
    if (request.wait?.signal?.aborted) return { granted: false, reason: "cancelled" };
    const state = this.#touch(request.key, request.limit);
    const result = this.#take(state, request);
    this.#settle(request.key, state);
    return result;
  }

  /** The acquire step proper, on a freshly touched key. */
  #take(state: SlotState, request: AcquireRequest): AcquireResult | Promise<AcquireResult> {
    const { key, holder, limit, ttlMs, wait } = request;
    const free = state.queue.size === 0 && (limit === 0 || state.holders.size < limit);
    if (state.holders.has(holder) || free) {
      state.holders.set(holder, this.#clock.now() + ttlMs);
      return { granted: true, waitedMs: 0 };
    }
    if (!wait) return { granted: false, reason: "busy" };
    if (state.queue.size >= wait.maxWaiting) return { granted: false, reason: "queue_full" };
    const token = String(this.#nextToken++);
    const pending = new PendingWait({
      timeoutMs: wait.timeoutMs,
      signal: wait.signal,
      leave: () => this.#leave(key, token),
    });
    state.queue.set(token, { holder, ttlMs, wait: pending });
    pending.arm();
    return pending.promise;
  }

  async acquirePair(request: PairRequest): Promise<PairResult> {
    this.#assertOpen();
    assertPairRequest(request);
    const { holder, ttlMs } = request;
    const first = this.#touch(request.first.key, request.first.limit);
    const firstLoad = this.#freeLoad(first, request.first.limit, holder);
    let best = -1;
    let bestRank = 0;
    let bestLoad = 0;
    if (firstLoad >= 0) {
      for (const [i, choice] of request.choices.entries()) {
        const state = this.#touch(choice.key, choice.limit);
        const load = this.#freeLoad(state, choice.limit, holder);
        this.#settle(choice.key, state);
        if (load < 0) {
          if (choice.lead) return this.#pairRefused(request, first, "choice_busy");
          continue;
        }
        if (best < 0 || choice.rank < bestRank || (choice.rank === bestRank && load < bestLoad)) {
          [best, bestRank, bestLoad] = [i, choice.rank, load];
        }
      }
    }
    if (firstLoad < 0) return this.#pairRefused(request, first, "first_busy");
    const chosen = request.choices[best];
    if (!chosen) return this.#pairRefused(request, first, "choice_busy");
    const expiry = this.#clock.now() + ttlMs;
    first.holders.set(holder, expiry);
    const state = this.#touch(chosen.key, chosen.limit);
    state.holders.set(holder, expiry);
    this.#settle(chosen.key, state);
    this.#settle(request.first.key, first);
    return { granted: true, choice: best };
  }

  #pairRefused(request: PairRequest, first: SlotState, reason: "first_busy" | "choice_busy"): PairResult {
    this.#settle(request.first.key, first);
    return { granted: false, reason };
  }

  /** Load (holders / limit) when a slot is free without overtaking anyone, else -1; 0 for unlimited or held. */
  #freeLoad(state: SlotState, limit: number, holder: string): number {
    if (state.queue.size > 0) return -1;
    if (state.holders.has(holder) || limit === 0) return 0;
    return state.holders.size < limit ? state.holders.size / limit : -1;
  }

  async renew(key: string, holder: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    assertTtl(ttlMs);
    const state = this.#touch(key);
    const held = state.holders.has(holder);
    if (held) state.holders.set(holder, this.#clock.now() + ttlMs);
    this.#settle(key, state);
    return held;
  }

  async reassert(key: string, holder: string, ttlMs: number): Promise<"renewed" | "recreated"> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    assertTtl(ttlMs);
    const now = this.#clock.now();
    // Extended before the prune, so the holder's own expiry neither frees its slot nor reports it abandoned.
    const expiry = this.#slots.get(key)?.holders.get(holder);
    if (expiry !== undefined) this.#slots.get(key)?.holders.set(holder, now + ttlMs);
    const state = this.#touch(key);
    state.holders.set(holder, now + ttlMs);
    this.#settle(key, state);
    return expiry !== undefined && expiry > now ? "renewed" : "recreated";
  }

  /** Memory never loses its state while the process lives: nothing to report. */
  onReconnected(_listener: () => void): () => void {
    return () => {};
  }

  async release(key: string, holder: string): Promise<boolean> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    const state = this.#touch(key);
    const released = state.holders.delete(holder);
    this.#promote(state);
    this.#settle(key, state);
    return released;
  }

  async releaseAll(keys: readonly string[], holder: string): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.release(key, holder)));
  }

  async loads(keys: readonly string[]): Promise<Map<string, SlotLoad>> {
    this.#assertOpen();
    const loads = new Map<string, SlotLoad>();
    for (const key of keys) {
      const state = this.#touch(key);
      loads.set(key, { inUse: state.holders.size, waiting: state.queue.size });
      this.#settle(key, state);
    }
    return loads;
  }

  onExpired(listener: ExpiredListener): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const waits = [...this.#slots.values()].flatMap((state) => [...state.queue.values()]);
    await Promise.all(
      waits.map(({ wait }) => wait.leave("cancelled", storeClosed()).then(() => wait.settled)),
    );
    for (const state of this.#slots.values()) clearTimeout(state.recheck);
    this.#slots.clear();
  }

  /** The key's state after pruning expired holders and serving the queue: the first step of every operation. */
  #touch(key: string, limit?: number): SlotState {
    let state = this.#slots.get(key);
    if (!state) {
      state = { holders: new Map(), queue: new Map(), limit: limit ?? 0, recheck: undefined };
      this.#slots.set(key, state);
    }
    if (limit !== undefined) state.limit = limit;
    const now = this.#clock.now();
    const expired: string[] = [];
    for (const [holder, expiry] of state.holders) {
      if (expiry <= now) expired.push(holder);
    }
    for (const holder of expired) state.holders.delete(holder);
    this.#promote(state);
    this.#listeners.report(key, expired);
    return state;
  }

  /** Hands free slots to waiters in arrival order; a waiter whose holder already holds costs no slot. */
  #promote(state: SlotState): void {
    const now = this.#clock.now();
    for (const [token, queued] of state.queue) {
      const holds = state.holders.has(queued.holder);
      if (!holds && state.limit > 0 && state.holders.size >= state.limit) return;
      state.queue.delete(token);
      state.holders.set(queued.holder, now + queued.ttlMs);
      queued.wait.grant();
    }
  }

  #leave(key: string, token: string): void {
    const state = this.#slots.get(key);
    if (!state) return;
    state.queue.delete(token);
    this.#settle(key, state);
  }

  /** Forgets an idle key, or schedules its next re-examination while it has waiters: the last step of each operation. */
  #settle(key: string, state: SlotState): void {
    clearTimeout(state.recheck);
    state.recheck = undefined;
    if (state.holders.size === 0 && state.queue.size === 0) {
      if (this.#slots.get(key) === state) this.#slots.delete(key);
    } else if (state.queue.size > 0) {
      const now = this.#clock.now();
      let next = this.#recheckIntervalMs;
      for (const expiry of state.holders.values()) next = Math.min(next, expiry - now + 1);
      state.recheck = setTimeout(() => this.#settle(key, this.#touch(key)), Math.max(0, next));
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosed();
  }
}
