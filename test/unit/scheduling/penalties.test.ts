import { describe, expect, it } from "vitest";
import type { AccountCooldowns, AccountType } from "../../../src/control-plane/domain/scheduling/account.js";
import {
  type AccountHealth,
  type AccountPenalty,
  applyFailure,
  applySuccess,
  CLEAN_HEALTH,
  type UpstreamFailureView,
} from "../../../src/control-plane/domain/scheduling/penalties.js";
import { HOUR, MINUTE, NOW, SECOND } from "./scheduling-fixture.js";

const ACTIVE: AccountCooldowns = {
  status: "active",
  rateLimitedUntil: null,
  overloadedUntil: null,
  tempUnschedulableUntil: null,
};

const http = (status: number, resetAfterMs = 0, message = ""): UpstreamFailureView => ({
  kind: "http_status",
  status,
  resetAfterMs,
  message,
});
const other = (kind: UpstreamFailureView["kind"]): UpstreamFailureView => ({
  kind,
  status: 0,
  resetAfterMs: 0,
  message: "",
});
const streak = (count: number, lastAgoMs: number): AccountHealth => ({
  serverErrorStreak: count,
  lastServerErrorAt: NOW - lastAgoMs,
  forbiddenAt: [],
});
const forbidden = (...agoMs: number[]): AccountHealth => ({
  ...CLEAN_HEALTH,
  forbiddenAt: agoMs.map((ago) => NOW - ago),
});
const temp = (ms: number, reason: string): AccountPenalty => ({
  kind: "temp_unschedulable",
  until: NOW + ms,
  reason,
});

interface Row {
  failure: UpstreamFailureView;
  health?: AccountHealth;
  cooldowns?: Partial<AccountCooldowns>;
  type?: AccountType;
  penalty: AccountPenalty;
  after?: AccountHealth;
}

function run(row: Row, skipMonitoring = false) {
  return applyFailure({
    health: row.health ?? CLEAN_HEALTH,
    cooldowns: { ...ACTIVE, ...row.cooldowns },
    failure: row.failure,
    accountType: row.type ?? "apikey",
    skipMonitoring,
    now: NOW,
  });
}

describe("applyFailure", () => {
  const rows: [string, Row][] = [
    [
      "429 is rate-limited for the upstream's shortest reset",
      {
        failure: http(429, 2_500),
        penalty: { kind: "rate_limited", until: NOW + 2_500, reason: "upstream 429" },
      },
    ],
    [
      "429 without a reset is rate-limited for 5 s",
      {
        failure: http(429),
        penalty: { kind: "rate_limited", until: NOW + 5 * SECOND, reason: "upstream 429" },
      },
    ],
    [
      "429 does not shorten a longer rate limit already in place",
      {
        failure: http(429, 1_000),
        cooldowns: { rateLimitedUntil: NOW + 60 * SECOND },
        penalty: { kind: "none" },
      },
    ],
    [
      "529 is overloaded for 10 min",
      {
        failure: http(529),
        penalty: { kind: "overloaded", until: NOW + 10 * MINUTE, reason: "upstream 529" },
      },
    ],
    ["the first 5xx costs nothing", { failure: http(500), penalty: { kind: "none" }, after: streak(1, 0) }],
    [
      "the second 5xx in a row cools down 10 s",
      {
        failure: http(502),
        health: streak(1, MINUTE),
        penalty: temp(10 * SECOND, "upstream 502 (2nd in a row)"),
        after: streak(2, 0),
      },
    ],
    [
      "the third 5xx in a row cools down 45 s",
      {
        failure: http(503),
        health: streak(2, MINUTE),
        penalty: temp(45 * SECOND, "upstream 503 (3rd in a row)"),
        after: streak(3, 0),
      },
    ],
    [
      "every later 5xx in a row cools down 45 s",
      {
        failure: http(504),
        health: streak(10, MINUTE),
        penalty: temp(45 * SECOND, "upstream 504 (11th in a row)"),
        after: streak(11, 0),
      },
    ],
    [
      "a 5xx just under 30 min after the last continues the streak",
      {
        failure: http(500),
        health: streak(1, 30 * MINUTE - 1),
        penalty: temp(10 * SECOND, "upstream 500 (2nd in a row)"),
        after: streak(2, 0),
      },
    ],
    [
      "a 5xx 30 min after the last starts a new streak",
      { failure: http(500), health: streak(5, 30 * MINUTE), penalty: { kind: "none" }, after: streak(1, 0) },
    ],
    [
      "a 5xx streak cooldown does not shorten a 403 cooldown in place",
      {
        failure: http(500),
        health: streak(1, MINUTE),
        cooldowns: { tempUnschedulableUntil: NOW + 10 * MINUTE },
        penalty: { kind: "none" },
        after: streak(2, 0),
      },
    ],
    [
      "an empty stream counts as a 5xx in the streak",
      {
        failure: other("empty_stream"),
        health: streak(1, MINUTE),
        penalty: temp(10 * SECOND, "upstream stream ended before any output (2nd in a row)"),
        after: streak(2, 0),
      },
    ],
    [
      "401 on an API key puts the account in error",
      {
        failure: http(401, 0, "Incorrect API key provided"),
        penalty: { kind: "error", reason: "upstream 401: Incorrect API key provided" },
      },
    ],
    [
      "401 on an account an admin disabled leaves its status alone",
      { failure: http(401), cooldowns: { status: "disabled" }, penalty: { kind: "none" } },
    ],
    [
      "401 on an OAuth account cools down 10 min",
      { failure: http(401), type: "oauth", penalty: temp(10 * MINUTE, "upstream 401") },
    ],
    ["402 cools down 10 min", { failure: http(402), penalty: temp(10 * MINUTE, "upstream 402") }],
    [
      "the first 403 cools down 10 min",
      { failure: http(403), penalty: temp(10 * MINUTE, "upstream 403"), after: forbidden(0) },
    ],
    [
      "the third 403 within 3 h puts the account in error",
      {
        failure: http(403),
        health: forbidden(2 * HOUR, HOUR),
        penalty: { kind: "error", reason: "upstream 403 (3 times within 3 h)" },
        after: forbidden(2 * HOUR, HOUR, 0),
      },
    ],
    [
      "a 403 exactly 3 h old no longer counts",
      {
        failure: http(403),
        health: forbidden(3 * HOUR, HOUR),
        penalty: temp(10 * MINUTE, "upstream 403"),
        after: forbidden(HOUR, 0),
      },
    ],
    [
      "three 403s spread over more than 3 h only cool down",
      {
        failure: http(403),
        health: forbidden(4 * HOUR, HOUR),
        penalty: temp(10 * MINUTE, "upstream 403"),
        after: forbidden(HOUR, 0),
      },
    ],
    [
      "a transport error cools down 1 min",
      { failure: other("transport"), penalty: temp(MINUTE, "upstream transport error") },
    ],
    [
      "a first-byte timeout cools down 1 min",
      { failure: other("headers_timeout"), penalty: temp(MINUTE, "upstream first-byte timeout") },
    ],
    ["a 400 costs nothing", { failure: http(400), penalty: { kind: "none" } }],
    ["a 405 costs nothing", { failure: http(405), penalty: { kind: "none" } }],
    ["a 413 costs nothing", { failure: http(413), penalty: { kind: "none" } }],
    [
      "a non-5xx failure neither extends nor resets the streak",
      {
        failure: http(429),
        health: streak(2, MINUTE),
        penalty: { kind: "rate_limited", until: NOW + 5 * SECOND, reason: "upstream 429" },
        after: streak(2, MINUTE),
      },
    ],
  ];

  it.each(rows)("%s", (_name, row) => {
    expect(run(row)).toEqual({ health: row.after ?? row.health ?? CLEAN_HEALTH, penalty: row.penalty });
  });

  const skipped: [string, UpstreamFailureView, AccountHealth][] = [
    ["a 5xx that would cool down", http(500), streak(2, MINUTE)],
    ["a 401 that would disable", http(401), CLEAN_HEALTH],
    ["a 403 that would disable", http(403), forbidden(HOUR, MINUTE)],
    ["a 429", http(429, 9_000), CLEAN_HEALTH],
  ];

  it.each(skipped)("skip-monitoring makes %s cost nothing and records nothing", (_name, failure, health) => {
    expect(run({ failure, health, penalty: { kind: "none" } }, true)).toEqual({
      health,
      penalty: { kind: "none" },
    });
  });

  it("cuts a long upstream message in the reason to 200 characters", () => {
    const { penalty } = run({ failure: http(529, 0, "x".repeat(500)), penalty: { kind: "none" } });
    expect(penalty.kind === "overloaded" ? penalty.reason : "").toBe(`upstream 529: ${"x".repeat(185)}…`);
  });
});

describe("applySuccess", () => {
  it.each([
    ["clears a 5xx streak", streak(4, MINUTE), CLEAN_HEALTH],
    [
      "keeps 403s, which count over a window, not in a row",
      { ...streak(2, MINUTE), forbiddenAt: [NOW - HOUR] },
      forbidden(HOUR),
    ],
    ["leaves a clean history clean", CLEAN_HEALTH, CLEAN_HEALTH],
  ] as const)("%s", (_name, before, after) => {
    expect(applySuccess(before)).toEqual(after);
  });
});
