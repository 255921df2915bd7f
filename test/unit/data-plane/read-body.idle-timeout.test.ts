import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ExchangeError } from "../../../src/data-plane/pipeline/client-response.js";
import { readBody } from "../../../src/data-plane/pipeline/read-body.js";

const KIB = 1024;
const IDLE_MS = 1_000;

/** One real turn of the event loop, past its check phase. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a pending promise has come to so far, without waiting for it. */
function outcomeOf<T>(promise: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const outcome: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(outcome, { value, settled: true }),
    (error: unknown) => Object.assign(outcome, { error, settled: true }),
  );
  return outcome;
}

describe("readBody with an idle timeout", () => {
  beforeEach(() => {
    // setImmediate stays real: the verdict waits one real turn of the event loop.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives up a body that stays silent for the timeout, with the 408 body_timeout, and stops reading", async () => {
    const stream = new PassThrough();
    const outcome = outcomeOf(readBody(stream, KIB, undefined, IDLE_MS));
    stream.write('{"model":');
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(outcome.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await nextTurn();

    expect(outcome.error).toBeInstanceOf(ExchangeError);
    expect((outcome.error as ExchangeError).failure).toBe("body_timeout");
    expect(stream.isPaused()).toBe(true);
    expect(stream.destroyed).toBe(false);
  });

  it("counts the silence before the first chunk too", async () => {
    const stream = new PassThrough();
    const outcome = outcomeOf(readBody(stream, KIB, 10, IDLE_MS));
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    await nextTurn();
    expect((outcome.error as ExchangeError).failure).toBe("body_timeout");
  });

  it("counts bytes that arrived while the event loop was stalled past the timeout as activity", async () => {
    const stream = new PassThrough();
    const outcome = outcomeOf(readBody(stream, KIB, undefined, IDLE_MS));
    // The timer comes due, and a chunk is already waiting to be read before the verdict.
    vi.advanceTimersByTime(IDLE_MS);
    stream.write("late but there");
    await nextTurn();
    expect(outcome.settled).toBe(false);

    stream.end();
    await nextTurn();
    expect(outcome.value?.toString()).toBe("late but there");
  });

  it("reads a slow but steady body whose whole upload lasts many timeouts", async () => {
    const stream = new PassThrough();
    const outcome = outcomeOf(readBody(stream, KIB, undefined, IDLE_MS));
    for (let i = 0; i < 10; i++) {
      stream.write(String(i));
      await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    }
    stream.end();
    await vi.advanceTimersByTimeAsync(0);

    expect(outcome.value?.toString()).toBe("0123456789");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind when the body is refused for its size", async () => {
    const stream = new PassThrough();
    const outcome = outcomeOf(readBody(stream, KIB, undefined, IDLE_MS));
    stream.write(Buffer.alloc(KIB + 1));
    await vi.advanceTimersByTimeAsync(0);

    expect(outcome.settled).toBe(true);
    expect(outcome.error).not.toBeInstanceOf(ExchangeError);
    expect(vi.getTimerCount()).toBe(0);
  });
});
