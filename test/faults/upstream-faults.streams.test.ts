import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import type { SseFrame } from "../support/e2e-sse.js";
import { sized } from "./support/fault-mode.js";
import { DEFAULT_LEASE_TTL_MS } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { accountState, listLeases, waitForUsage } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";
import { LAB_SETTINGS, type LabTenant, UpstreamLab } from "./support/upstream-lab.js";

/**
 * Upstreams that fail or misbehave after output began (and upstreams that are merely slow or huge): the client
 * must never take a broken stream for a complete one, and what it received must be billed as what it was.
 */
const SCENARIO = "upstream faults after output";
const CUT_MESSAGE = "Upstream stream ended unexpectedly";
/** Responses frames: created, in_progress, output_item.added, content_part.added, then one per delta. */
const FIRST_DELTA_FRAME = 4;
const SIZE = sized({
  reduced: { cuts: [6], hugeJsonBytes: 4 * 2 ** 20, longStreamEvents: 5_000, trickleChunks: 10 },
  full: { cuts: [5, 6, 12, 30], hugeJsonBytes: 32 * 2 ** 20, longStreamEvents: 100_000, trickleChunks: 20 },
});

const deltasOf = (frames: SseFrame[]) =>
  frames
    .filter((f) => f.event === "response.output_text.delta")
    .map((f) => (JSON.parse(f.data ?? "{}") as { delta: string }).delta)
    .join("");
const events = (frames: SseFrame[]) => frames.filter((f) => f.event !== undefined).map((f) => f.event);

/** Runs an SDK call that must throw, and returns the error. */
async function thrownBy(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => new Error("the stream completed cleanly"),
    (err: unknown) => err,
  );
}

describe("upstream faults after output began", () => {
  let lab: UpstreamLab;

  beforeAll(async () => {
    lab = await UpstreamLab.start("upstream-streams");
  });
  afterAll(() => lab?.stop());

  /** No penalty for a fault after output: the account answered, then broke. */
  async function expectNoCooldown(t: LabTenant): Promise<void> {
    const state = await accountState(lab.admin, t.accounts[0]?.id ?? "");
    expect(state.tempUnschedulableUntil).toBeNull();
    expect(state.rateLimitedUntil).toBeNull();
  }

  it("cut or reset mid-stream: an in-band error, never a clean end; billed as truncated", async () => {
    const t = await lab.tenant();
    const text = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const faults = [...SIZE.cuts.map((n) => ({ cutAfterEvents: n })), { reset: { afterEvents: 8 } }];
    for (const fault of faults) t.fake.script({ text, ...fault, times: 2 });

    const answers = [];
    for (const _fault of faults) {
      const sdkError = await thrownBy(() =>
        t.sdk().responses.stream({ model: "gpt-4o", input: "hi" }).finalResponse(),
      );
      expect(sdkError).toBeInstanceOf(OpenAI.APIError);
      expect((sdkError as Error).message).toBe(CUT_MESSAGE);
      answers.push(await complete(lab.dataPlane.url, t.key, "responses"));
    }
    const cleanEnds = answers.filter((a) => events(a.frames).includes("response.completed")).length;
    for (const raw of answers) {
      expect(raw.status).toBe(200);
      expect(raw.frames.at(-1)?.event).toBe("response.failed");
      expect(text.startsWith(deltasOf(raw.frames))).toBe(true);
    }
    expect(cleanEnds).toBe(0);
    const chatCut = await lab.tenant();
    chatCut.fake.script({ text, cutAfterEvents: 3 });
    const chat = await complete(lab.dataPlane.url, chatCut.key, "chat");
    expect(chat.text).not.toContain("[DONE]");
    expect(JSON.parse(chat.frames.at(-1)?.data ?? "{}")).toMatchObject({ error: { message: CUT_MESSAGE } });

    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 2 * faults.length);
    expect(records.map((r) => r.outcome)).toEqual(Array(2 * faults.length).fill(Outcome.TRUNCATED));
    expect(records.every((r) => r.statusCode === 200 && r.tokens?.outputTokens === 0)).toBe(true);
    await expectNoCooldown(t);
    recordFigures(SCENARIO, {
      "streams cut or reset after output": 2 * faults.length + 1,
      "of them ended like a complete stream": cleanEnds,
    });
  });

  it("stall after output: an in-band stream_timeout once the idle timeout passes; billed as truncated", async () => {
    const t = await lab.tenant();
    t.fake.script({ stall: { afterEvents: FIRST_DELTA_FRAME + 2 } });
    const started = Date.now();
    const raw = await complete(lab.dataPlane.url, t.key, "responses");
    const elapsed = Date.now() - started;
    const failed = JSON.parse(raw.frames.at(-1)?.data ?? "{}") as {
      response?: { error?: { code?: string } };
    };
    expect(raw.frames.at(-1)?.event).toBe("response.failed");
    expect(failed.response?.error?.code).toBe("stream_timeout");
    expect(raw.frames.some((f) => f.comment === "keepalive")).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(LAB_SETTINGS.streamIdleTimeoutMs - 500);
    expect(elapsed).toBeLessThan(LAB_SETTINGS.streamIdleTimeoutMs + 5_000);
    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 1);
    expect(records.map((r) => r.outcome)).toEqual([Outcome.TRUNCATED]);
    await expectNoCooldown(t);
    recordFigures(SCENARIO, {
      "stream idle timeout (ms)": LAB_SETTINGS.streamIdleTimeoutMs,
      "stall → in-band stream_timeout after (ms)": elapsed,
    });
  });

  it("malformed SSE frame mid-stream: relayed as sent, the stream still ends as the upstream ended it", async () => {
    const t = await lab.tenant();
    t.fake.script({ malformed: true, usage: { input_tokens: 7, output_tokens: 5 } });
    const raw = await complete(lab.dataPlane.url, t.key, "responses");
    const sdkError = await thrownBy(() =>
      t.sdk().responses.stream({ model: "gpt-4o", input: "hi" }).finalResponse(),
    );
    expect(raw.status).toBe(200);
    expect(raw.text).toContain("data: {not json\n\n");
    expect(raw.frames.at(-1)?.event).toBe("response.completed");
    expect(deltasOf(raw.frames.filter((f) => f.data !== "{not json"))).toBe("Hello from fake upstream.");
    // The SDK cannot parse the frame and raises: an SDK user never takes the stream for a clean one.
    expect(sdkError).toBeInstanceOf(OpenAI.OpenAIError);
    expect((sdkError as Error).cause).toBeInstanceOf(SyntaxError);
    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 2);
    expect(records.map((r) => r.outcome)).toEqual([Outcome.COMPLETED, Outcome.COMPLETED]);
    expect(records[0]?.tokens).toMatchObject({ inputTokens: 7, outputTokens: 5 });
    await expectNoCooldown(t);
    recordFigures(SCENARIO, {
      "malformed frame mid-stream → billed as": "completed (frame relayed as sent)",
    });
  });

  it("slow-loris upstream (a few bytes every 1.5 s): relayed intact past 2×TTL, lease kept, billed once", async () => {
    const t = await lab.tenant();
    const text = Array.from({ length: 60 }, (_, i) => `slow${i}`).join(" ");
    const usage = { input_tokens: 30, output_tokens: 60 };
    const plain = await fetch(`${t.fake.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-fake-script": JSON.stringify({ text, usage }) },
      body: JSON.stringify(requestBody("responses", true)),
    }).then((r) => r.text());
    const everyMs = 1_500;
    // At least `trickleChunks` chunks, so at least (chunks - 1) × 1.5 s: past 2×TTL.
    const trickle = { bytes: Math.floor(Buffer.byteLength(plain) / SIZE.trickleChunks), everyMs };
    t.fake.script({ text, usage, trickle, match: { path: "/v1/responses" } });
    t.fake.script({ trickle: { bytes: 100, everyMs }, match: { path: "/v1/chat/completions" } });

    const started = Date.now();
    const [final, json] = await Promise.all([
      t.sdk().responses.stream({ model: "gpt-4o", input: "hi" }).finalResponse(),
      t.sdk().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    ]);
    const elapsed = Date.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(2 * DEFAULT_LEASE_TTL_MS);
    expect(final.output_text).toBe(text);
    expect(json.choices[0]?.message.content).toBe("Hello from fake upstream.");
    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 2);
    expect(records.map((r) => r.outcome)).toEqual([Outcome.COMPLETED, Outcome.COMPLETED]);
    expect(records.find((r) => r.stream)?.tokens).toMatchObject({ inputTokens: 30, outputTokens: 60 });
    expect(await listLeases(lab.admin, t.userId)).toEqual([]);
    recordFigures(SCENARIO, {
      "slow-loris stream: chunks × interval": `${SIZE.trickleChunks} × ${everyMs} ms`,
      "slow-loris stream relayed intact in (ms)": elapsed,
    });
  });

  it("huge answers: a multi-MB JSON body and a long stream are relayed intact and billed normally", async () => {
    const t = await lab.tenant();
    const word = "lorem ipsum dolor sit amet ";
    const bigText = word.repeat(Math.ceil(SIZE.hugeJsonBytes / word.length));
    const longText = Array.from({ length: SIZE.longStreamEvents }, (_, i) => `${i} `).join("");
    const usage = { input_tokens: 1_234, output_tokens: 987_654 };
    t.fake.script({ text: bigText, events: 1, usage, match: { path: "/v1/responses" }, times: 1 });
    t.fake.script({ text: longText, events: SIZE.longStreamEvents, usage, match: { path: "/v1/responses" } });

    let started = Date.now();
    const big = await t.sdk().responses.create({ model: "gpt-4o", input: "big" });
    const bigMs = Date.now() - started;
    started = Date.now();
    const long = await complete(lab.dataPlane.url, t.key, "responses");
    const longMs = Date.now() - started;

    expect(big.output_text).toBe(bigText);
    expect(long.frames.at(-1)?.event).toBe("response.completed");
    expect(deltasOf(long.frames)).toBe(longText);
    const records = await waitForUsage(lab.admin, t.userId, (r) => r.length >= 2);
    for (const record of records) {
      expect(record.outcome).toBe(Outcome.COMPLETED);
      expect(record.tokens).toMatchObject({ inputTokens: 1_234, outputTokens: 987_654 });
      expect(Number(record.totalCostUsd)).toBeGreaterThan(0);
    }
    recordFigures(SCENARIO, {
      "huge JSON answer (MiB)": Math.round(SIZE.hugeJsonBytes / 2 ** 20),
      "huge JSON relayed in (ms)": bigMs,
      "long stream (events)": SIZE.longStreamEvents,
      "long stream (MiB on the wire)": Number((Buffer.byteLength(long.text) / 2 ** 20).toFixed(1)),
      "long stream relayed in (ms)": longMs,
    });
  });
});
