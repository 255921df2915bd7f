import { describe, expect, it } from "vitest";
import { AuthFailureLimiter } from "../../../src/data-plane/pipeline/auth-failure-limiter.js";
import { ManualClock } from "../../../src/shared/clock.js";
import type { OpenAIErrorResponse } from "../../../src/shared/errors.js";
import { answerOf } from "./openai-error-fixture.js";

const IP = "203.0.113.7";

function limiter(options: { maxTrackedClients?: number; maxFailures?: number } = {}) {
  const clock = new ManualClock(1_000_000);
  return { clock, limiter: new AuthFailureLimiter({ clock, ...options }) };
}

function fail(l: AuthFailureLimiter, ip: string, times: number): void {
  for (let i = 0; i < times; i++) l.recordFailure(ip);
}

function tooManyFailures(retryAfterSeconds: number): OpenAIErrorResponse {
  return {
    status: 429,
    headers: { "retry-after": String(retryAfterSeconds) },
    body: {
      error: {
        type: "rate_limit_error",
        message: "Too many invalid API key attempts, please retry later",
        code: "too_many_auth_failures",
        param: null,
      },
    },
  };
}

describe("AuthFailureLimiter lets a client through", () => {
  it("after 119 failures within the window", () => {
    const { limiter: l } = limiter();
    fail(l, IP, 119);
    expect(() => l.check(IP)).not.toThrow();
  });

  it("when its 120th failure comes at or after 60 s from the window's first (a new window starts)", () => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 119);
    clock.advance(60_000);
    l.recordFailure(IP);
    expect(() => l.check(IP)).not.toThrow();
    fail(l, IP, 118);
    expect(() => l.check(IP)).not.toThrow();
  });

  it("when another client is the one failing", () => {
    const { limiter: l } = limiter();
    fail(l, "198.51.100.1", 120);
    expect(() => l.check(IP)).not.toThrow();
  });

  it("60 s after it was blocked, and counts afresh from there", () => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 120);
    clock.advance(60_000);
    expect(() => l.check(IP)).not.toThrow();
    fail(l, IP, 119);
    expect(() => l.check(IP)).not.toThrow();
  });
});

describe("AuthFailureLimiter answers 429 with Retry-After", () => {
  it("right after the 120th failure within 60 s: 60 s", () => {
    const { limiter: l } = limiter();
    fail(l, IP, 120);
    expect(answerOf(() => l.check(IP))).toEqual(tooManyFailures(60));
  });

  it("when the 120th failure is the window's last millisecond", () => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 119);
    clock.advance(59_999);
    l.recordFailure(IP);
    expect(answerOf(() => l.check(IP))).toEqual(tooManyFailures(60));
  });

  it.each([
    [1, 60],
    [30_000, 30],
    [59_001, 1],
    [59_999, 1],
  ])("%i ms into the block: the time left, rounded up to %i s", (elapsed, seconds) => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 120);
    clock.advance(elapsed);
    expect(answerOf(() => l.check(IP))).toEqual(tooManyFailures(seconds));
  });

  it("without extending the block for failures recorded while blocked", () => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 120);
    clock.advance(59_000);
    fail(l, IP, 500);
    expect(answerOf(() => l.check(IP))).toEqual(tooManyFailures(1));
    clock.advance(1_000);
    expect(() => l.check(IP)).not.toThrow();
  });

  it("as the error's retryAfterMs, in milliseconds", () => {
    const { clock, limiter: l } = limiter();
    fail(l, IP, 120);
    clock.advance(12_345);
    expect(() => l.check(IP)).toThrow(expect.objectContaining({ retryAfterMs: 47_655 }));
  });
});

describe("AuthFailureLimiter keeps memory bounded", () => {
  it("drops the client with the oldest window once the cap is reached", () => {
    const { clock, limiter: l } = limiter({ maxTrackedClients: 2, maxFailures: 1 });
    l.recordFailure("a");
    clock.advance(1);
    l.recordFailure("b");
    clock.advance(1);
    l.recordFailure("c");
    expect(l.trackedClients).toBe(2);
    expect(() => l.check("a")).not.toThrow();
    expect(() => l.check("b")).toThrow();
    expect(() => l.check("c")).toThrow();
  });

  it("sweeps clients whose window and block are over as new windows open", () => {
    const { clock, limiter: l } = limiter();
    l.recordFailure("a");
    l.recordFailure("b");
    l.recordFailure("c");
    clock.advance(60_000);
    l.recordFailure("d");
    expect(l.trackedClients).toBe(2);
    l.recordFailure("e");
    expect(l.trackedClients).toBe(2);
  });

  it("keeps a blocked client through the sweep until its block ends", () => {
    const { clock, limiter: l } = limiter();
    fail(l, "a", 120);
    clock.advance(60_000 - 1);
    l.recordFailure("b");
    expect(l.trackedClients).toBe(2);
    expect(() => l.check("a")).toThrow();
  });
});
