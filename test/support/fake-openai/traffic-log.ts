import type { ReceivedRequest, TrafficStats } from "./types.js";

interface InFlightWaiter {
  target: number;
  resolve: () => void;
}

/** Counts and records the API requests the fake receives (control requests never reach it). */
export class TrafficLog {
  inFlight = 0;
  maxInFlight = 0;
  total = 0;
  /** Mutated in place, so a reference handed out stays live across `reset()`. */
  readonly requests: ReceivedRequest[] = [];
  #waiters = new Set<InFlightWaiter>();

  /** A request arrived. */
  begin(): void {
    this.inFlight += 1;
    this.total += 1;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
    this.#notify();
  }

  /** A request's response finished or its connection closed. */
  end(): void {
    this.inFlight -= 1;
    this.#notify();
  }

  record(request: ReceivedRequest): void {
    this.requests.push(request);
  }

  /** Forgets records and totals; the high-water mark restarts from the requests still in flight. */
  reset(): void {
    this.requests.length = 0;
    this.total = 0;
    this.maxInFlight = this.inFlight;
  }

  stats(): TrafficStats {
    return { inFlight: this.inFlight, maxInFlight: this.maxInFlight, total: this.total };
  }

  /** Resolves once exactly `target` requests are in flight; rejects after `timeoutMs`. */
  waitForInFlight(target: number, timeoutMs: number): Promise<void> {
    if (this.inFlight === target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: InFlightWaiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(`expected ${target} requests in flight within ${timeoutMs} ms, have ${this.inFlight}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #notify(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of this.#waiters) {
      if (waiter.target !== this.inFlight) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }
}
