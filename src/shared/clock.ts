/** The time source. Time-dependent logic takes a Clock so tests move time instead of sleeping. */
export interface Clock {
  /** Unix epoch milliseconds. */
  now(): number;
}

/** Wall-clock time. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; a real implementation for deterministic tests and simulations. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: number | Date = 0) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("a clock does not go backwards");
    this.#now += ms;
  }

  /** Sets the time, e.g. to cross a day boundary. */
  set(at: number | Date): void {
    this.#now = typeof at === "number" ? at : at.getTime();
  }
}
