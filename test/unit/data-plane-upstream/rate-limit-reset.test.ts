import { describe, expect, it } from "vitest";
import {
  parseResetDurationMs,
  parseRetryAfterMs,
  rateLimitResetMs,
} from "../../../src/data-plane/upstream/rate-limit-reset.js";
import type { HeaderBag } from "../../../src/data-plane/upstream/upstream-adapter.js";

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe("OpenAI reset durations", () => {
  it.each([
    ["1s", 1000],
    ["6m0s", 360_000],
    ["20ms", 20],
    ["1h2m3.5s", 3_723_500],
    ["0.5s", 500],
    ["59.123s", 59_123],
    ["2m", 120_000],
    ["1500us", 1.5],
    ["12", 12_000],
    ["0s", 0],
  ])("%s → %d ms", (text, ms) => {
    expect(parseResetDurationMs(text)).toBeCloseTo(ms, 6);
  });

  it.each(["", "soon", "1x", "-1s", "1 s", "s", "1h 2m", "1.s", "NaN"])("%j is garbage", (text) => {
    expect(parseResetDurationMs(text)).toBeUndefined();
  });
});

describe("Retry-After", () => {
  it.each([
    ["30", 30_000],
    ["0", 0],
    ["1.5", 1500],
    ["Wed, 15 Jan 2025 12:00:20 GMT", 20_000],
    ["Wednesday, 15-Jan-25 12:01:00 GMT", 60_000],
    ["Wed, 15 Jan 2025 11:59:00 GMT", 0],
  ])("%j → %d ms", (text, ms) => {
    expect(parseRetryAfterMs(text, NOW)).toBe(ms);
  });

  it.each(["soon", "-5", "2025-01-15T12:00:20Z", "5 s", "Wed, not a date"])("%j is garbage", (text) => {
    expect(parseRetryAfterMs(text, NOW)).toBeUndefined();
  });
});

describe("the reset that explains a 429", () => {
  it.each<[string, HeaderBag, unknown, number]>([
    ["nothing given", {}, undefined, 0],
    ["retry-after seconds", { "retry-after": "7" }, undefined, 7000],
    ["retry-after HTTP date", { "retry-after": "Wed, 15 Jan 2025 12:00:03 GMT" }, undefined, 3000],
    ["retry-after-ms", { "retry-after-ms": "250" }, undefined, 250],
    ["reset-requests", { "x-ratelimit-reset-requests": "6m0s" }, undefined, 360_000],
    ["reset-tokens", { "x-ratelimit-reset-tokens": "1h2m3.5s" }, undefined, 3_723_500],
    [
      "body resets_in_seconds in error",
      {},
      { error: { type: "usage_limit_reached", resets_in_seconds: 90 } },
      90_000,
    ],
    ["body resets_in_seconds at top level", {}, { resets_in_seconds: 12 }, 12_000],
    [
      "the shortest of all wins",
      { "retry-after": "20", "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "1.5s" },
      { error: { resets_in_seconds: 3600 } },
      1500,
    ],
    ["body shorter than headers", { "retry-after": "60" }, { error: { resets_in_seconds: 2 } }, 2000],
    [
      "a dimension with budget left does not explain it",
      {
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
      },
      undefined,
      360_000,
    ],
    [
      "garbage is ignored, the rest still counts",
      { "retry-after": "later", "x-ratelimit-reset-requests": "soon", "x-ratelimit-reset-tokens": "2s" },
      { error: { resets_in_seconds: "forever" } },
      2000,
    ],
    ["only garbage", { "retry-after": "later", "x-ratelimit-reset-tokens": "??" }, undefined, 0],
    ["fractions round up", { "x-ratelimit-reset-tokens": "1500us" }, undefined, 2],
    ["repeated header: first value", { "retry-after": ["4", "9"] }, undefined, 4000],
  ])("%s", (_name, headers, body, expected) => {
    expect(rateLimitResetMs(headers, body, NOW)).toBe(expected);
  });

  it("clamps to the proto's uint32", () => {
    expect(rateLimitResetMs({}, { resets_in_seconds: 10 ** 9 }, NOW)).toBe(4_294_967_295);
  });
});
