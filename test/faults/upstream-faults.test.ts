import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { waitFor } from "./support/conditions.js";
import { faultMode } from "./support/fault-mode.js";
import { recordFigures } from "./support/figures.js";
import { accountState, waitForUsage } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";
import { accountOf, type LabTenant, SHORT_HEADERS_TIMEOUT_MS, UpstreamLab } from "./support/upstream-lab.js";

/**
 * Upstreams that refuse before any output reached the client: the data plane fails over to the next account, the
 * refusing account cools down for as long as BEHAVIOUR.md says, and with no account left the client gets the
 * mapped error. (After output began: upstream-faults.streams.test.ts.)
 */
const SCENARIO = "upstream faults before output";

/**
 * A cooldown lasts about `ms` from now (the penalty was applied a moment ago, on the control plane's clock);
 * returns the seconds it still has to run, for the figures.
 */
function expectCooldown(until: number | null, ms: number): number {
  const left = (until ?? 0) - Date.now();
  expect(until).not.toBeNull();
  expect(left).toBeGreaterThan(ms - 5_000);
  expect(left).toBeLessThanOrEqual(ms);
  return Math.round(left / 1000);
}

/** What the SDK threw, or a failure when the call succeeded. */
async function sdkError(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const err = await call().then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  if (!(err instanceof OpenAI.APIError)) throw err;
  return err;
}

describe("upstream refusals before output", () => {
  let lab: UpstreamLab;

  beforeAll(async () => {
    lab = await UpstreamLab.start("upstream-refusals");
  });
  afterAll(() => lab?.stop());

  let conversation = 0;

  /**
   * A request through the SDK that must succeed; returns which accounts the fake saw for it. Each one starts a new
   * conversation, so no sticky binding decides the account instead of priorities and cooldowns.
   */
  async function served(t: LabTenant, dp = lab.dataPlane): Promise<number[]> {
    const before = t.fake.requests.length;
    conversation += 1;
    const response = await t.sdk(dp).responses.create({ model: "gpt-4o", input: `hi #${conversation}` });
    expect(response.status).toBe("completed");
    return t.served(before);
  }

  it("429 with Retry-After: fails over, cools the account for the given time; alone, the client gets 429", async () => {
    const t = await lab.tenant([10, 50]);
    t.fake.script({
      match: { apiKey: accountOf(t, 0).credential },
      status: 429,
      headers: { "retry-after": "20" },
    });
    expect(await served(t)).toEqual([0, 1]);
    const cooled = expectCooldown(
      (await accountState(lab.admin, accountOf(t, 0).id)).rateLimitedUntil,
      20_000,
    );
    expect(await served(t)).toEqual([1]);

    const alone = await lab.tenant();
    alone.fake.script({ status: 429, headers: { "retry-after": "7" } });
    const err = await sdkError(() =>
      alone.sdk().chat.completions.create(requestBody("chat", false) as never),
    );
    expect(err.status).toBe(429);
    expect(err.headers?.get("retry-after")).toBe("7");
    expect(err.error).toMatchObject({
      type: "rate_limit_error",
      message: "Upstream rate limit exceeded, please retry later",
    });
    // While its only account cools down the user is answered at once, without another upstream attempt.
    const raw = await complete(lab.dataPlane.url, alone.key, "responses", requestBody("responses", false));
    expect(raw.status).toBe(503);
    expect(JSON.parse(raw.text)).toMatchObject({ error: { message: "No available accounts" } });
    expect(alone.fake.total).toBe(1);
    const records = await waitForUsage(lab.admin, alone.userId, (r) => r.length >= 1);
    expect(records[0]).toMatchObject({ outcome: Outcome.FAILED_UPSTREAM, statusCode: 429 });
    recordFigures(SCENARIO, {
      "429 (Retry-After: 20) → account rate-limited for (s)": cooled,
      "429, only account → client status": err.status ?? 0,
      "429, only account cooling → next request's status": raw.status,
    });
  });

  it("5xx streak: fails over every time; the account cools 10 s after the 2nd in a row, 45 s after the 3rd", async () => {
    const t = await lab.tenant([10, 50]);
    const first = accountOf(t, 0);
    t.fake.script({ match: { apiKey: first.credential }, status: 500 });
    expect(await served(t)).toEqual([0, 1]);
    expect((await accountState(lab.admin, first.id)).tempUnschedulableUntil).toBeNull();
    expect(await served(t)).toEqual([0, 1]);
    const second = (await accountState(lab.admin, first.id)).tempUnschedulableUntil;
    const figures: Record<string, number> = {
      "5xx, 2nd in a row → account cooled for (s)": expectCooldown(second, 10_000),
    };
    expect(await served(t)).toEqual([1]);
    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 3);
    expect(records.map((r) => r.outcome)).toEqual(Array(3).fill(Outcome.COMPLETED));
    expect(records.map((r) => r.failoverCount).sort()).toEqual([0, 1, 1]);
    if (faultMode() === "full") {
      // Once the 10 s are over the account is tried again; a 3rd 5xx in a row escalates to 45 s.
      await waitFor(() => Date.now() > (second ?? 0) + 500, { timeoutMs: 15_000, what: "the 10 s cooldown" });
      expect(await served(t)).toEqual([0, 1]);
      const third = (await accountState(lab.admin, first.id)).tempUnschedulableUntil;
      figures["5xx, 3rd in a row → account cooled for (s)"] = expectCooldown(third, 45_000);
    }
    recordFigures(SCENARIO, figures);
  });

  it("connection reset before headers: fails over, cools the account 1 min; alone, the client gets 502", async () => {
    const t = await lab.tenant([10, 50]);
    t.fake.script({ match: { apiKey: accountOf(t, 0).credential }, reset: "before-headers" });
    expect(await served(t)).toEqual([0, 1]);
    const state = await accountState(lab.admin, accountOf(t, 0).id);
    const cooled = expectCooldown(state.tempUnschedulableUntil, 60_000);

    const alone = await lab.tenant();
    alone.fake.script({ reset: "before-headers" });
    const err = await sdkError(() => alone.sdk().responses.create({ model: "gpt-4o", input: "hi" }));
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ type: "upstream_error", message: "Upstream request failed" });
    const records = await waitForUsage(lab.admin, alone.userId, (r) => r.length >= 1);
    expect(records[0]).toMatchObject({ outcome: Outcome.FAILED_UPSTREAM, statusCode: 502 });
    recordFigures(SCENARIO, {
      "reset before headers → account cooled for (s)": cooled,
      "reset before headers, only account → client status": err.status ?? 0,
    });
  });

  it("no headers within the first-byte timeout: fails over after it, cools the account 1 min", async () => {
    const t = await lab.tenant([10, 50]);
    t.fake.script({ match: { apiKey: accountOf(t, 0).credential }, stall: "before-headers" });
    const started = Date.now();
    expect(await served(t, lab.shortHeaders)).toEqual([0, 1]);
    const failoverMs = Date.now() - started;
    const state = await accountState(lab.admin, accountOf(t, 0).id);
    const cooled = expectCooldown(state.tempUnschedulableUntil, 60_000);

    const alone = await lab.tenant();
    alone.fake.script({ stall: "before-headers" });
    const aloneStarted = Date.now();
    const raw = await complete(lab.shortHeaders.url, alone.key, "responses");
    const aloneMs = Date.now() - aloneStarted;
    expect(raw.status).toBe(502);
    expect(JSON.parse(raw.text)).toMatchObject({ error: { type: "upstream_error" } });
    for (const ms of [failoverMs, aloneMs]) {
      expect(ms).toBeGreaterThanOrEqual(SHORT_HEADERS_TIMEOUT_MS - 100);
      // undici checks the timeout on a coarse (~0.5–1 s) timer.
      expect(ms).toBeLessThan(SHORT_HEADERS_TIMEOUT_MS + 4_000);
    }
    recordFigures(SCENARIO, {
      "first-byte timeout (ms)": SHORT_HEADERS_TIMEOUT_MS,
      "no headers → account cooled for (s)": cooled,
      "no headers → answered by the next account (ms)": failoverMs,
      "no headers, one account → 502 (ms)": aloneMs,
    });
  });
});
