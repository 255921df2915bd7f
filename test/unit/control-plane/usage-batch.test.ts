import { Writable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { UsageBatch } from "../../../src/control-plane/domain/billing/usage-batch.js";
import type { UsageInput, UsageLedger } from "../../../src/control-plane/domain/billing/usage-ledger.js";
import { createLogger } from "../../../src/shared/logger.js";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

const usage = (requestId: string) => ({ requestId }) as UsageInput;

/** A ledger that records the batches it is asked to write; each write waits until `finish` is called. */
function heldLedger() {
  const writes: string[][] = [];
  const pending: Array<(error?: Error) => void> = [];
  const ledger: UsageLedger = {
    record(inputs) {
      writes.push(inputs.map((i) => i.requestId));
      return new Promise((resolve, reject) =>
        pending.push((error) =>
          error ? reject(error) : resolve({ recorded: inputs.length, duplicates: 0 }),
        ),
      );
    },
  };
  return { ledger, writes, finish: (error?: Error) => pending.shift()?.(error) };
}

const turn = () => new Promise((r) => setImmediate(r));

/** Conditions are waited for, not timed: a loaded machine may run timers late. */
const WAIT = { timeout: 10_000 };

describe("UsageBatch (usage records carried by releases)", () => {
  it("writes the records that arrive within the linger in one ledger write, and tells each caller", async () => {
    const { ledger, writes, finish } = heldLedger();
    const batch = new UsageBatch({ ledger, log, lingerMs: 20 });
    const answers = [batch.add(usage("a")), batch.add(usage("b"))];
    await turn();
    expect(writes).toEqual([]); // still lingering
    await vi.waitFor(() => expect(writes).toHaveLength(1), WAIT);
    void batch.add(usage("c"));
    expect(writes).toEqual([["a", "b"]]);
    finish();
    expect(await Promise.all(answers)).toEqual([true, true]);
    // "c" arrived during the write: it goes at once after it, without a second linger.
    await turn();
    expect(writes).toEqual([["a", "b"], ["c"]]);
    finish();
  });

  it("answers false for every record of a write that failed, goes on with the next, and logs an outage once", async () => {
    const { ledger, writes, finish } = heldLedger();
    const lines: string[] = [];
    const captured = createLogger({
      level: "info",
      destination: new Writable({
        write: (chunk, _e, done) => {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    const batch = new UsageBatch({ ledger, log: captured, lingerMs: 1 });
    const failed = [batch.add(usage("a")), batch.add(usage("b"))];
    await vi.waitFor(() => expect(writes).toHaveLength(1), WAIT);
    finish(new Error("database unavailable"));
    expect(await Promise.all(failed)).toEqual([false, false]);
    const failedAgain = batch.add(usage("c"));
    await vi.waitFor(() => expect(writes).toHaveLength(2), WAIT);
    finish(new Error("database unavailable"));
    expect(await failedAgain).toBe(false);
    const next = batch.add(usage("c"));
    await vi.waitFor(() => expect(writes).toHaveLength(3), WAIT);
    finish();
    expect(await next).toBe(true);
    expect(writes).toEqual([["a", "b"], ["c"], ["c"]]);
    // A database outage fails every batch: one line when it starts, one when writes work again.
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual([
      expect.stringContaining("unavailable"),
      expect.stringContaining("available again"),
    ]);
  });

  it("writes a full batch at once, and flush writes what is queued without waiting for the linger", async () => {
    const { ledger, writes, finish } = heldLedger();
    const batch = new UsageBatch({ ledger, log, lingerMs: 60_000, maxRecords: 2 });
    void batch.add(usage("a"));
    void batch.add(usage("b"));
    expect(writes).toEqual([["a", "b"]]);
    const last = batch.add(usage("c"));
    const flushed = batch.flush(5_000);
    finish();
    await turn();
    finish();
    await flushed;
    expect(await last).toBe(true);
    expect(writes).toEqual([["a", "b"], ["c"]]);
  });

  it("stops waiting for a ledger that hangs once its flush deadline passes", async () => {
    const ledger: UsageLedger = { record: () => new Promise(() => {}) };
    const batch = new UsageBatch({ ledger, log, lingerMs: 60_000 });
    void batch.add(usage("a"));
    const started = Date.now();
    await batch.flush(50);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("answers false for a write the ledger leaves unanswered, and for what queued behind it, then at once until it answers", async () => {
    const writes: string[][] = [];
    let answer = () => {};
    const ledger: UsageLedger = {
      record(inputs) {
        writes.push(inputs.map((i) => i.requestId));
        const result = { recorded: inputs.length, duplicates: 0 };
        if (writes.length > 1) return Promise.resolve(result); // the database answers again
        return new Promise((resolve) => {
          answer = () => resolve(result);
        });
      },
    };
    const batch = new UsageBatch({ ledger, log, lingerMs: 1, answerWithinMs: 30 });
    const first = batch.add(usage("a"));
    await vi.waitFor(() => expect(writes).toEqual([["a"]]), WAIT);
    const behind = batch.add(usage("b")); // queued behind the hung write
    expect(await Promise.all([first, behind])).toEqual([false, false]);
    expect(await batch.add(usage("c"))).toBe(false); // the ledger still hangs: not queued at all
    expect(writes).toEqual([["a"]]);
    answer(); // at last (the data planes have sent "a", "b" and "c" again meanwhile; the ledger skips copies)
    await turn();
    expect(await batch.add(usage("d"))).toBe(true);
    expect(writes).toEqual([["a"], ["d"]]);
  });
});
