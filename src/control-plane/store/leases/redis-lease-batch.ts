import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { PairRequest, PairResult } from "./lease-store.js";
import type { ScriptArg } from "./redis-lease-client.js";
import { ScriptStatus } from "./redis-lease-scripts.js";

/** Runs the batch script: the slot keys' bases, then the operations' arguments. */
export type RunBatch = (bases: readonly string[], args: readonly ScriptArg[]) => Promise<unknown>;

/** Dependencies of {@link LeaseBatch}. */
export interface LeaseBatchDeps {
  run: RunBatch;
  /** A slot key's base in Redis (`<prefix>{<slot key>}`). */
  baseOf: (key: string) => string;
  /** Told the holders found expired on a slot key. */
  reportExpired: (key: string, holders: readonly string[]) => void;
  /** Rejections of a failed run (fail closed). */
  unavailable: (cause: unknown) => SwitchyardError;
  /** Operations per script run at most; more wait for the next run. */
  maxOperations?: number;
  /** Failed operations remembered for {@link LeaseBatch.releaseUncertain} at most (default 10,000). */
  maxUncertain?: number;
}

type Pending =
  | {
      readonly kind: "pair";
      readonly request: PairRequest;
      readonly resolve: (result: PairResult) => void;
      readonly reject: (err: unknown) => void;
    }
  | {
      readonly kind: "release";
      readonly keys: readonly string[];
      readonly holder: string;
      readonly resolve: (held: boolean[]) => void;
      readonly reject: (err: unknown) => void;
    };

/**
 * Collects the pair admits and releases asked for during one turn of the event loop and runs them as one batch
 * script (redis-lease-scripts.ts `batch`) at the end of the turn: the Lua entry, the clock read and the round trip
 * are paid once per turn instead of once per operation, and each slot key is named once however many operations
 * touch it. Operations run in the order they were asked for; each keeps its own answer. A lone operation waits for
 * nothing but the end of its turn.
 */
export class LeaseBatch {
  readonly #deps: LeaseBatchDeps;
  readonly #maxOperations: number;
  readonly #maxUncertain: number;
  #pending: Pending[] = [];
  #scheduled = false;
  /**
   * Holders of runs that failed without an answer (holder → the slot keys they name): Redis may have run them
   * after all — a frozen Redis works off what was sent to it when it resumes, long after its callers gave up — so
   * slots may be held by admits that were refused, and releases may not have happened.
   */
  readonly #uncertain = new Map<string, readonly string[]>();

  constructor(deps: LeaseBatchDeps) {
    this.#deps = deps;
    this.#maxOperations = deps.maxOperations ?? 256;
    this.#maxUncertain = deps.maxUncertain ?? 10_000;
  }

  acquirePair(request: PairRequest): Promise<PairResult> {
    return new Promise((resolve, reject) => this.#add({ kind: "pair", request, resolve, reject }));
  }

  releaseAll(keys: readonly string[], holder: string): Promise<boolean[]> {
    return new Promise((resolve, reject) => this.#add({ kind: "release", keys, holder, resolve, reject }));
  }

  /**
   * Gives back every slot a failed run may have taken or kept (see `#uncertain`): after the first run that succeeds
   * again, and when the connection is back from a drop, before anything else is sent on it — each time once more
   * `againAfterMs` later (what a dropped connection delivered may be worked off after the new one's first
   * commands). Their callers were answered with an error, so none of these holders is in use: an admit refused is
   * never resent, a release that failed is not retried. Past `maxUncertain` the rest is left to the lease TTL.
   */
  async releaseUncertain(againAfterMs = 1_000): Promise<void> {
    const entries = [...this.#uncertain];
    this.#uncertain.clear();
    if (entries.length === 0) return;
    const releaseAll = () =>
      Promise.all(
        entries.map(([holder, keys]) =>
          this.releaseAll(keys, holder).catch(() => {
            this.#noteUncertain(holder, keys); // down again: the next return tries again
          }),
        ),
      );
    await releaseAll();
    await new Promise((resolve) => setTimeout(resolve, againAfterMs).unref());
    await releaseAll();
  }

  /** Holders remembered for {@link releaseUncertain} (logged when the connection is back). */
  get uncertain(): number {
    return this.#uncertain.size;
  }

  #noteUncertain(holder: string, keys: readonly string[]): void {
    if (this.#uncertain.size < this.#maxUncertain) this.#uncertain.set(holder, keys);
  }

  #add(operation: Pending): void {
    this.#pending.push(operation);
    if (this.#pending.length >= this.#maxOperations) {
      this.#flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const operations = this.#pending;
    if (operations.length === 0) return;
    this.#pending = [];
    const keys: string[] = [];
    const indexes = new Map<string, number>();
    // 1-based, as Lua's KEYS.
    const indexOf = (key: string): number => {
      let index = indexes.get(key);
      if (index === undefined) {
        index = keys.push(key);
        indexes.set(key, index);
      }
      return index;
    };
    const args: ScriptArg[] = [];
    for (const op of operations) {
      if (op.kind === "pair") {
        const { holder, ttlMs, first, choices } = op.request;
        args.push("P", holder, ttlMs, choices.length, indexOf(first.key), first.limit);
        for (const c of choices) args.push(indexOf(c.key), c.limit, c.rank, c.lead ? 1 : 0);
      } else {
        args.push("R", op.holder, op.keys.length, ...op.keys.map(indexOf));
      }
    }
    this.#deps.run(keys.map(this.#deps.baseOf), args).then(
      (reply) => {
        this.#settle(operations, keys, reply);
        // Redis answers again; on the same connection what it may still run of the failed runs came before this.
        if (this.#uncertain.size > 0) void this.releaseUncertain();
      },
      (err: unknown) => {
        const error = this.#deps.unavailable(err);
        for (const op of operations) {
          if (op.kind === "pair") {
            const { holder, first, choices } = op.request;
            this.#noteUncertain(holder, [first.key, ...choices.map((c) => c.key)]);
          } else this.#noteUncertain(op.holder, op.keys);
          op.reject(error);
        }
      },
    );
  }

  #settle(operations: readonly Pending[], keys: readonly string[], reply: unknown): void {
    const answers = Array.isArray(reply) ? (reply as unknown[]) : [];
    const expected = operations.reduce((n, op) => n + (op.kind === "pair" ? 2 : op.keys.length), 0);
    const expired = answers[expected];
    if (answers.length !== expected + 1 || !Array.isArray(expired)) {
      const error = new SwitchyardError(ErrorCode.INTERNAL, { message: "Unexpected lease batch reply" });
      for (const op of operations) op.reject(error);
      return;
    }
    for (const entry of expired as string[]) {
      const bar = entry.indexOf("|");
      const key = keys[Number(entry.slice(0, bar)) - 1];
      if (key !== undefined) this.#deps.reportExpired(key, [entry.slice(bar + 1)]);
    }
    let at = 0;
    for (const op of operations) {
      if (op.kind === "pair") {
        const status = answers[at];
        const b = Number(answers[at + 1]);
        at += 2;
        op.resolve(
          status === ScriptStatus.GRANTED
            ? { granted: true, choice: b }
            : { granted: false, reason: b === 0 ? "first_busy" : "choice_busy" },
        );
      } else {
        op.resolve(op.keys.map((_, k) => answers[at + k] === 1));
        at += op.keys.length;
      }
    }
  }
}
