import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";

/** How long a caller is prepared to wait for a slot, and how many may wait before it. */
export interface WaitOptions {
  /** The most requests that may wait on the key; a caller arriving when this many wait gets `queue_full`. */
  maxWaiting: number;
  /** How long to wait before giving up with `timeout`; also the queue entry's own deadline in the store. */
  timeoutMs: number;
  /** Aborting leaves the queue at once with `cancelled` (e.g. the client went away). */
  signal?: AbortSignal;
}

/** A request for one slot of `key` on behalf of `holder`. */
export interface AcquireRequest {
  /** The slot key, e.g. `user:<id>` or `account:<id>`. */
  key: string;
  /** Who holds the slot (a lease id); the same holder acquiring twice holds one slot. */
  holder: string;
  /** Slots the key has; 0 means unlimited. The latest limit given for a key is the one its waiters are served by. */
  limit: number;
  /** The lease's lifetime from now; a holder that neither renews nor releases in time loses the slot. */
  ttlMs: number;
  /** Omit to take a slot only if one is free now (answering `busy` otherwise). */
  wait?: WaitOptions;
}

/**
 * Why a slot was not granted:
 * - `busy`: no free slot (or others wait) and the caller did not ask to wait;
 * - `queue_full`: `maxWaiting` requests already wait;
 * - `timeout`: the wait lasted `timeoutMs`;
 * - `cancelled`: the wait's signal aborted.
 */
export type AcquireRefusal = "busy" | "queue_full" | "timeout" | "cancelled";

/** The answer to an acquire. A refusal means the holder holds nothing on the key because of this call. */
export type AcquireResult =
  | { readonly granted: true; readonly waitedMs: number }
  | { readonly granted: false; readonly reason: AcquireRefusal };

/** A key's live holders and waiting requests. */
export interface SlotLoad {
  readonly inUse: number;
  readonly waiting: number;
}

/** One slot key offered to {@link LeaseStore.acquirePair}. */
export interface PairChoice {
  readonly key: string;
  readonly limit: number;
  /** Lower ranks are preferred; within a rank the least loaded (holders / limit) wins, then list order. */
  readonly rank: number;
  /** When this choice is not free the whole pair is refused (the caller then decides to wait on it or not). */
  readonly lead?: boolean;
}

/** A request for a slot on `first` plus a slot on the best of `choices`, for one holder, in one atomic step. */
export interface PairRequest {
  readonly holder: string;
  readonly ttlMs: number;
  readonly first: { readonly key: string; readonly limit: number };
  readonly choices: readonly PairChoice[];
}

/**
 * The answer to an acquirePair: both slots granted (`choice` indexes `choices`), or nothing taken because the first
 * key is busy (or has waiters) or no choice is free (or has waiters, or the lead choice is not free).
 */
export type PairResult =
  | { readonly granted: true; readonly choice: number }
  | { readonly granted: false; readonly reason: "first_busy" | "choice_busy" };

/** Told about a holder whose lease ran out before it was released. */
export type ExpiredListener = (key: string, holder: string) => void;

/**
 * Expiring slots with FIFO, push-woken wait queues (DESIGN.md §3). Every operation prunes the key's expired
 * holders and overdue waiters first and hands freed slots to the queue's head before anything else, so:
 * holders never exceed the limit, a newcomer never overtakes a waiter, and a dead holder or waiter only holds
 * things up until its own deadline. Failures of the backing store reject with `STORE_UNAVAILABLE` (fail closed);
 * a closed store rejects with `SHUTTING_DOWN`.
 */
export interface LeaseStore {
  /**
   * Takes a slot now, or waits for one in arrival order when `wait` is given. A holder that already holds the
   * slot gets its expiry refreshed and is granted at once. A wait that times out or is cancelled has left the
   * queue when this resolves, and the holder holds nothing — even if a grant raced the cancel (the slot is then
   * handed to the next waiter).
   */
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /**
   * The hot path's fast admit: takes a slot on `first` and one on the best free choice together, atomically, or
   * takes nothing. Never waits and never overtakes a waiter: a key with anyone queued counts as busy, so the caller
   * falls back to {@link acquire} with its wait rules.
   */
  acquirePair(request: PairRequest): Promise<PairResult>;
  /** Extends a held slot's expiry to `ttlMs` from now; false if the holder no longer holds it. */
  renew(key: string, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * Renews a holder's slot, or counts it again when it expired or vanished (the holder is still running: its
   * renewals could not get through, or the store lost its state), even above the limit — acquirers then wait until
   * the count is back under it. Resolves `recreated` or `renewed`.
   */
  reassert(key: string, holder: string, ttlMs: number): Promise<"renewed" | "recreated">;
  /** Frees a slot and hands it to the head waiter in the same step; false (and no change) if not held. */
  release(key: string, holder: string): Promise<boolean>;
  /** {@link release} on several keys at once (one store step); per key, whether the holder held it. */
  releaseAll(keys: readonly string[], holder: string): Promise<boolean[]>;
  /** In-use and waiting counts per key, after pruning; keys never used answer zeros. */
  loads(keys: readonly string[]): Promise<Map<string, SlotLoad>>;
  /**
   * Registers a listener for holders found expired (reported at least once, by whichever operation pruned them:
   * a key's expired holders are reported when the key is next touched — `loads` counts as a touch).
   * Returns a function that removes the listener.
   */
  onExpired(listener: ExpiredListener): () => void;
  /**
   * Registers a listener called when the store's connection came back after it was lost: its state may be gone (a
   * restarted Redis keeps nothing), so holders should re-assert. Returns a function that removes the listener.
   */
  onReconnected(listener: () => void): () => void;
  /** Ends every wait of this instance (rejecting with `SHUTTING_DOWN`) and releases its resources. */
  close(): Promise<void>;
}

/** The longest wait a timer can measure (Node fires longer timeouts at once). */
const MAX_WAIT_MS = 2_147_483_647;

function invalid(message: string, param: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_ARGUMENT, { message, param });
}

function assertCount(value: number, param: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw invalid(`${param} must be an integer ≥ ${min}`, param);
}

/** Checks a key/holder pair; both must be non-empty strings. */
export function assertSlotRef(key: string, holder: string): void {
  if (typeof key !== "string" || key.length === 0) throw invalid("key must be a non-empty string", "key");
  if (typeof holder !== "string" || holder.length === 0) {
    throw invalid("holder must be a non-empty string", "holder");
  }
}

/** Checks a lease lifetime: a whole number of milliseconds, at least 1. */
export function assertTtl(ttlMs: number): void {
  assertCount(ttlMs, "ttlMs", 1);
}

/** Rejects malformed requests with `INVALID_ARGUMENT` before they reach a store. */
export function assertAcquireRequest(request: AcquireRequest): void {
  assertSlotRef(request.key, request.holder);
  assertCount(request.limit, "limit", 0);
  assertTtl(request.ttlMs);
  if (request.wait) {
    assertCount(request.wait.maxWaiting, "wait.maxWaiting", 0);
    assertCount(request.wait.timeoutMs, "wait.timeoutMs", 1);
    if (request.wait.timeoutMs > MAX_WAIT_MS) {
      throw invalid(`wait.timeoutMs must be at most ${MAX_WAIT_MS}`, "wait.timeoutMs");
    }
  }
}

/** Rejects malformed pair requests with `INVALID_ARGUMENT` before they reach a store. */
export function assertPairRequest(request: PairRequest): void {
  assertSlotRef(request.first.key, request.holder);
  assertCount(request.first.limit, "first.limit", 0);
  assertTtl(request.ttlMs);
  if (request.choices.length === 0) throw invalid("choices must not be empty", "choices");
  for (const choice of request.choices) {
    assertSlotRef(choice.key, request.holder);
    assertCount(choice.limit, "choices.limit", 0);
    if (!Number.isFinite(choice.rank)) throw invalid("choices.rank must be a number", "choices.rank");
  }
}

/** The error every operation on a closed store rejects with. */
export function storeClosed(): SwitchyardError {
  return new SwitchyardError(ErrorCode.SHUTTING_DOWN, { message: "Lease store is closed" });
}
