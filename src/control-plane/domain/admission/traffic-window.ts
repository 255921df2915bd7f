import type { Clock } from "../../../shared/clock.js";

/** Requests and errors counted over the window. */
export interface TrafficTotals {
  requests: number;
  errors: number;
  windowMs: number;
}

const BUCKET_MS = 1_000;

/**
 * This replica's own request counters over a sliding window (one-second buckets): admits granted and refused, and
 * requests that ended with an upstream failure. What the overview's requests/s and error rate are computed from.
 */
export class TrafficWindow {
  readonly #clock: Clock;
  readonly #buckets: number;
  readonly #requests: number[];
  readonly #errors: number[];
  /** The second each slot was last written for; a slot from an older second counts as empty. */
  readonly #seconds: number[];

  constructor(clock: Clock, windowMs = 60_000) {
    this.#clock = clock;
    this.#buckets = Math.max(1, Math.round(windowMs / BUCKET_MS));
    this.#requests = new Array(this.#buckets).fill(0);
    this.#errors = new Array(this.#buckets).fill(0);
    this.#seconds = new Array(this.#buckets).fill(-1);
  }

  /** A request was admitted. */
  admitted(): void {
    this.#add(1, 0);
  }

  /** A request was refused (bad key, no slot, no account…): a request and an error. */
  refused(): void {
    this.#add(1, 1);
  }

  /** An admitted request ended with an upstream failure: an error, the request was already counted. */
  failed(): void {
    this.#add(0, 1);
  }

  totals(): TrafficTotals {
    const now = this.#second();
    let requests = 0;
    let errors = 0;
    for (let i = 0; i < this.#buckets; i++) {
      const second = this.#seconds[i] ?? -1;
      if (second <= now - this.#buckets) continue;
      requests += this.#requests[i] ?? 0;
      errors += this.#errors[i] ?? 0;
    }
    return { requests, errors, windowMs: this.#buckets * BUCKET_MS };
  }

  #add(requests: number, errors: number): void {
    const second = this.#second();
    const slot = second % this.#buckets;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#requests[slot] = 0;
      this.#errors[slot] = 0;
    }
    this.#requests[slot] = (this.#requests[slot] ?? 0) + requests;
    this.#errors[slot] = (this.#errors[slot] ?? 0) + errors;
  }

  #second(): number {
    return Math.floor(this.#clock.now() / BUCKET_MS);
  }
}
