import { performance } from "node:perf_hooks";
import type { AcquireResult } from "./lease-store.js";

/** Why a waiter leaves its queue without a slot. */
export type LeaveReason = "timeout" | "cancelled";

/** What a {@link PendingWait} needs from the store that queued it. */
export interface PendingWaitOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /**
   * Takes the waiter out of its queue (and gives back a slot a racing grant gave it). Runs at most once, on
   * timeout or abort; a rejection becomes the acquire's rejection.
   */
  leave: (reason: LeaveReason) => Promise<void> | void;
  /** Runs once when the wait is over, whatever the outcome (bookkeeping only). */
  onDone?: () => void;
}

/**
 * One acquire waiting for a slot, as the process that queued it sees it. It settles exactly once: granted by
 * the store, or refused after leaving the queue on its own timer or signal. While it is leaving, grants are
 * ignored — the store's leave step resolves that race and hands such a slot on.
 */
export class PendingWait {
  /** The acquire's answer. */
  readonly promise: Promise<AcquireResult>;
  readonly #startedAt = performance.now();
  readonly #options: PendingWaitOptions;
  #state: "waiting" | "leaving" | "done" = "waiting";
  #timer: NodeJS.Timeout | undefined;
  #resolve!: (result: AcquireResult) => void;
  #reject!: (err: unknown) => void;
  readonly #onAbort = (): void => {
    void this.leave("cancelled");
  };

  constructor(options: PendingWaitOptions) {
    this.#options = options;
    this.promise = new Promise<AcquireResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Resolves once the wait is over, however it ended (for shutdown to wait for leaves in flight). */
  get settled(): Promise<void> {
    return this.promise.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Whether the wait can still be granted. */
  get waiting(): boolean {
    return this.#state === "waiting";
  }

  /** Starts the timeout (counted from this wait's creation) and the abort listener, once the waiter is queued. */
  arm(): void {
    if (this.#state !== "waiting") return;
    const { signal, timeoutMs } = this.#options;
    if (signal?.aborted) {
      void this.leave("cancelled");
      return;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    const remaining = timeoutMs - (performance.now() - this.#startedAt);
    if (remaining <= 0) {
      void this.leave("timeout");
      return;
    }
    this.#timer = setTimeout(() => void this.leave("timeout"), remaining);
  }

  /** Settles as granted; false (and nothing happens) when the wait is already leaving or over. */
  grant(): boolean {
    if (this.#state !== "waiting") return false;
    this.#finish();
    this.#resolve({ granted: true, waitedMs: Math.round(performance.now() - this.#startedAt) });
    return true;
  }

  /** Settles as refused, the store having found the waiter gone from its queue; ignored once leaving. */
  refuse(reason: LeaveReason): void {
    if (this.#state !== "waiting") return;
    this.#finish();
    this.#resolve({ granted: false, reason });
  }

  /** Settles as failed (the store could not be reached); ignored once leaving, as the leave step decides then. */
  fail(err: unknown): void {
    if (this.#state !== "waiting") return;
    this.#finish();
    this.#reject(err);
  }

  /** Leaves the queue, then refuses with `reason`; with `failWith`, rejects with it instead once left. */
  async leave(reason: LeaveReason, failWith?: unknown): Promise<void> {
    if (this.#state !== "waiting") return;
    this.#state = "leaving";
    this.#clearTriggers();
    let outcome: unknown = failWith;
    try {
      await this.#options.leave(reason);
    } catch (err) {
      outcome = failWith ?? err;
    }
    this.#finish();
    if (outcome === undefined) this.#resolve({ granted: false, reason });
    else this.#reject(outcome);
  }

  #finish(): void {
    this.#state = "done";
    this.#clearTriggers();
    this.#options.onDone?.();
  }

  #clearTriggers(): void {
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }
}
