import type { Logger } from "../../../shared/logger.js";
import { OutageLog } from "../../../shared/outage-log.js";
import { waitAtMost } from "../../../shared/wait-at-most.js";
import type { UsageInput, UsageLedger } from "./usage-ledger.js";

/** Settings of {@link UsageBatch}. */
export interface UsageBatchOptions {
  ledger: UsageLedger;
  log: Logger;
  /** How long the first record of a batch waits for others (a full batch goes at once). */
  lingerMs?: number;
  /** Records per ledger write at most. */
  maxRecords?: number;
  /**
   * How long a write may go unanswered before its records, and those queued behind it, are answered "not written"
   * (ms; default 2000). A database that hangs instead of failing (frozen, cut off) must not hold the releases that
   * carry them: unanswered, they pile up on the lease channel until it stops reading — admits included.
   */
  answerWithinMs?: number;
}

interface Waiting {
  readonly input: UsageInput;
  readonly done: (written: boolean) => void;
}

/**
 * Usage records that arrive one at a time (each with its lease's release, DESIGN.md §5) written to the ledger in
 * batches: the first record waits `lingerMs` for others, one ledger write runs at a time, and what arrives meanwhile
 * goes in the next. Each caller learns whether its record is written — true also for a duplicate, which the ledger
 * skips; false when the ledger could not write the batch, or did not answer within `answerWithinMs` (the caller
 * sends it again later; should the hung write commit after all, the ledger skips the copy). While a write is overdue,
 * new records are answered false at once. A sequential stream of requests then costs a database transaction per
 * batch instead of per request.
 */
export class UsageBatch {
  readonly #ledger: UsageLedger;
  /** One line when writes start failing (a database outage fails every batch) and one when they work again. */
  readonly #outage: OutageLog;
  readonly #lingerMs: number;
  readonly #maxRecords: number;
  readonly #answerWithinMs: number;
  #waiting: Waiting[] = [];
  /** Set while the running write is overdue: the database hangs, and records are not queued behind it. */
  #stalled = false;
  #timer: NodeJS.Timeout | null = null;
  /** The ledger write running, if any; it starts the next one (what queued meanwhile) as it ends. */
  #writing: Promise<void> | null = null;

  constructor(options: UsageBatchOptions) {
    this.#ledger = options.ledger;
    this.#outage = new OutageLog(
      options.log,
      "usage ledger (records carried by releases; their data planes send them again)",
    );
    this.#lingerMs = options.lingerMs ?? 25;
    this.#maxRecords = options.maxRecords ?? 500;
    this.#answerWithinMs = options.answerWithinMs ?? 2_000;
  }

  /** Queues one record; resolves once its batch is written (true) or could not be (false). Never rejects. */
  add(input: UsageInput): Promise<boolean> {
    if (this.#stalled) return Promise.resolve(false);
    return new Promise((done) => {
      this.#waiting.push({ input, done });
      if (this.#writing) return;
      if (this.#waiting.length >= this.#maxRecords) this.#writeNow();
      else this.#timer ??= setTimeout(() => this.#writeNow(), this.#lingerMs);
    });
  }

  /**
   * Writes what is queued now and waits for it (shutdown), for at most `timeoutMs`: a database that hangs must not
   * hold the process. What is left unwritten is sent again by its data planes (their releases are not answered).
   */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!this.#writing) this.#writeNow();
    while (this.#writing) {
      if ((await waitAtMost(this.#writing, deadline - Date.now())) === "timed out") return;
    }
  }

  #writeNow(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#waiting.splice(0, this.#maxRecords);
    if (batch.length === 0) return;
    const overdue = setTimeout(() => {
      this.#stalled = true;
      this.#outage.failed(new Error(`usage write unanswered after ${this.#answerWithinMs} ms`));
      // Answered now (a promise settles once: the write's own answer, should it come, changes nothing).
      for (const w of [...batch, ...this.#waiting.splice(0)]) w.done(false);
    }, this.#answerWithinMs);
    this.#writing = this.#ledger.record(batch.map((w) => w.input)).then(
      () => {
        clearTimeout(overdue);
        this.#outage.ok();
        this.#settle(batch, true);
      },
      (err: unknown) => {
        clearTimeout(overdue);
        this.#outage.failed(err);
        this.#settle(batch, false);
      },
    );
  }

  #settle(batch: readonly Waiting[], written: boolean): void {
    this.#writing = null;
    this.#stalled = false;
    for (const w of batch) w.done(written);
    // What arrived during the write has waited already: it goes at once.
    if (this.#waiting.length > 0) this.#writeNow();
  }
}
