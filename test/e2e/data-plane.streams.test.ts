import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { parseSseFrames, postJson, SseBodyReader, sleep, waitForUsage } from "../support/e2e-sse.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

const CUT_MESSAGE = "Upstream stream ended unexpectedly";

function sdkFor(tenant: Tenant, baseUrl: string): OpenAI {
  return new OpenAI({ apiKey: tenant.key, baseURL: `${baseUrl}/v1`, maxRetries: 0 });
}

/** Runs `consume` and returns what it threw; fails the test when it completes cleanly. */
async function thrownBy(consume: () => Promise<unknown>): Promise<unknown> {
  try {
    await consume();
  } catch (err) {
    return err;
  }
  throw new Error("the stream completed cleanly");
}

describe("upstream streams that break, and clients that leave", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_streams" });
  });
  afterAll(() => stack?.stop());

  describe("when the upstream cuts a Responses stream after output began", () => {
    it("makes the SDK raise, ends the raw stream with response.failed, and records TRUNCATED", async () => {
      const tenant = await seedStackTenant(stack);
      const client = sdkFor(tenant, stack.dataPlane.url);
      // Frames: created, in_progress, item added, part added, then deltas: cut after two deltas.
      stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, cutAfterEvents: 6 });

      const fromHelper = await thrownBy(() =>
        client.responses.stream({ model: "gpt-4o", input: "hello" }).finalResponse(),
      );
      const fromIteration = await thrownBy(async () => {
        const stream = await client.responses.create({ model: "gpt-4o", input: "hello", stream: true });
        for await (const _event of stream) {
          // drain
        }
      });
      const raw = await postJson(`${stack.dataPlane.url}/v1/responses`, tenant.key, {
        model: "gpt-4o",
        input: "hello",
        stream: true,
      });
      const frames = parseSseFrames(await raw.text());

      for (const err of [fromHelper, fromIteration]) {
        expect(err).toBeInstanceOf(APIError);
        expect((err as APIError).message).toBe(CUT_MESSAGE);
      }
      expect(raw.status).toBe(200);
      const events = frames.map((f) => f.event);
      expect(events).toContain("response.output_text.delta");
      expect(events).not.toContain("response.completed");
      expect(events.at(-1)).toBe("response.failed");
      const failed = JSON.parse(frames.at(-1)?.data ?? "{}") as {
        response: { status: string; error: { message: string } };
        error: { type: string; message: string };
      };
      expect(failed.response.status).toBe("failed");
      expect(failed.response.error.message).toBe(CUT_MESSAGE);
      expect(failed.error).toMatchObject({ type: "upstream_error", message: CUT_MESSAGE });

      const requestId = raw.headers.get("x-request-id");
      const records = await waitForUsage(stack.admin, tenant.userId, (r) => r.length >= 3);
      expect(records).toHaveLength(3);
      expect(records.map((r) => r.outcome)).toEqual(Array(3).fill(Outcome.TRUNCATED));
      expect(records.find((r) => r.requestId === requestId)?.outcome).toBe(Outcome.TRUNCATED);
    });
  });

  describe("when the upstream cuts a chat stream after output began", () => {
    it("makes the SDK's iteration throw and never sends data: [DONE]", async () => {
      const tenant = await seedStackTenant(stack);
      const client = sdkFor(tenant, stack.dataPlane.url);
      // Frames: role chunk, then one per word: cut after two words.
      stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, cutAfterEvents: 3 });
      const request = { model: "gpt-4o", messages: [{ role: "user" as const, content: "hi" }] };

      const received: string[] = [];
      const fromIteration = await thrownBy(async () => {
        const stream = await client.chat.completions.create({ ...request, stream: true });
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
      });
      const raw = await postJson(`${stack.dataPlane.url}/v1/chat/completions`, tenant.key, {
        ...request,
        stream: true,
      });
      const text = await raw.text();
      const frames = parseSseFrames(text);

      expect(fromIteration).toBeInstanceOf(APIError);
      expect((fromIteration as APIError).message).toBe(CUT_MESSAGE);
      expect(received.join("")).toBe("Hello from ");
      expect(raw.status).toBe(200);
      expect(text).not.toContain("[DONE]");
      const last = JSON.parse(frames.at(-1)?.data ?? "{}") as { error?: { message: string } };
      expect(last.error?.message).toBe(CUT_MESSAGE);
      const records = await waitForUsage(stack.admin, tenant.userId, (r) => r.length >= 2);
      expect(records.map((r) => r.outcome)).toEqual([Outcome.TRUNCATED, Outcome.TRUNCATED]);
    });
  });

  describe("when the upstream never sends headers", () => {
    it("answers an upstream error after the first-byte timeout, never a completion", async () => {
      const dp = await stack.startDataPlane({ SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS: "1000" });
      // Two tenants, so the SDK's request does not meet the account the first timeout put in cooldown.
      const rawTenant = await seedStackTenant(stack);
      const sdkTenant = await seedStackTenant(stack);
      for (const tenant of [rawTenant, sdkTenant])
        stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, stall: "before-headers" });

      const started = Date.now();
      const raw = await postJson(`${dp.url}/v1/responses`, rawTenant.key, {
        model: "gpt-4o",
        input: "hello",
        stream: true,
      });
      const body = (await raw.json()) as { error: { type: string; message: string } };
      const rawElapsed = Date.now() - started;
      const sdkStarted = Date.now();
      const fromSdk = await thrownBy(async () => {
        const stream = await sdkFor(sdkTenant, dp.url).responses.create({
          model: "gpt-4o",
          input: "hello",
          stream: true,
        });
        for await (const _event of stream) {
          // drain
        }
      });
      const sdkElapsed = Date.now() - sdkStarted;

      expect(raw.status).toBe(502);
      expect(body.error.type).toBe("upstream_error");
      expect(body.error.message).toBe("Upstream request failed");
      expect(rawElapsed).toBeGreaterThanOrEqual(900);
      expect(rawElapsed).toBeLessThan(5000);
      expect(fromSdk).toBeInstanceOf(APIError);
      expect((fromSdk as APIError).status).toBe(502);
      expect(sdkElapsed).toBeLessThan(5000);
      const records = await waitForUsage(stack.admin, rawTenant.userId, (r) => r.length >= 1);
      expect(records.map((r) => r.outcome)).toEqual([Outcome.FAILED_UPSTREAM]);
      expect(records[0]?.statusCode).toBe(502);
    });
  });

  describe("when the client aborts mid-stream", () => {
    it("frees the user slot at once, drains the upstream and records CLIENT_ABORTED with its usage", async () => {
      const tenant = await seedStackTenant(stack, { userConcurrency: 1 });
      const apiKey = tenant.accounts[0]?.credential;
      stack.fake.reset();
      // 37 frames 100 ms apart: the first upstream stream lasts ~3.6 s.
      const slow = { events: 30, eventDelayMs: 100, usage: { input_tokens: 21, output_tokens: 42 } };
      stack.fake.script({ match: { apiKey }, text: "x".repeat(30), ...slow, times: 1 });
      stack.fake.script({ match: { apiKey } });
      const url = `${stack.dataPlane.url}/v1/responses`;

      const abort = new AbortController();
      const first = await postJson(
        url,
        tenant.key,
        { model: "gpt-4o", input: "a", stream: true },
        abort.signal,
      );
      const firstId = first.headers.get("x-request-id");
      const reader = new SseBodyReader(first);
      const sawDeltas = await reader.readUntil(
        (frames) => frames.filter((f) => f.event === "response.output_text.delta").length >= 3,
      );
      abort.abort();
      const abortedAt = Date.now();
      const second = await postJson(url, tenant.key, { model: "gpt-4o", input: "b", stream: true });
      const secondFrames = parseSseFrames(await second.text());
      const secondDoneAt = Date.now();
      const upstreamStillStreaming = stack.fake.inFlight;
      await stack.fake.waitForInFlight(0, 10_000);
      const upstreamEndedAt = Date.now();
      const firstUpstreamAt = stack.fake.requests[0]?.receivedAt ?? 0;

      expect(sawDeltas).toBe(true);
      expect(second.status).toBe(200);
      expect(secondFrames.at(-1)?.event).toBe("response.completed");
      // Admitted while the first upstream stream was still running: the user slot came back at once.
      expect(secondDoneAt - abortedAt).toBeLessThan(1500);
      expect(upstreamStillStreaming).toBe(1);
      // The first upstream stream ran to its end (~3.6 s) instead of being cut when the client left.
      expect(upstreamEndedAt - firstUpstreamAt).toBeGreaterThanOrEqual(3300);
      const records = await waitForUsage(stack.admin, tenant.userId, (r) => r.length >= 2);
      const aborted = records.find((r) => r.requestId === firstId);
      expect(aborted?.outcome).toBe(Outcome.CLIENT_ABORTED);
      expect(aborted?.tokens?.outputTokens).toBe(42);
      expect(aborted?.tokens?.inputTokens).toBe(21);
    });
  });

  describe("when the client leaves and then the upstream stalls", () => {
    it("frees the account slot once the upstream is silent for the drain idle bound, not at the total bound", async () => {
      await stack.admin.updateSettings({
        settings: { clientGoneDrainMs: 60_000, clientGoneDrainIdleMs: 1000 },
      });
      await sleep(1500); // the next snapshot carries the settings to the data plane
      const tenant = await seedStackTenant(stack, { accounts: [{ concurrency: 1 }] });
      const apiKey = tenant.accounts[0]?.credential;
      // Frames 100 ms apart; the client leaves after the first delta, the upstream stalls ~1.5 s later.
      stack.fake.script({
        match: { apiKey },
        events: 30,
        eventDelayMs: 100,
        stall: { afterEvents: 20 },
        times: 1,
      });
      stack.fake.script({ match: { apiKey } });
      const url = `${stack.dataPlane.url}/v1/responses`;
      const abort = new AbortController();
      const first = await postJson(
        url,
        tenant.key,
        { model: "gpt-4o", input: "a", stream: true },
        abort.signal,
      );
      const reader = new SseBodyReader(first);
      await reader.readUntil((frames) => frames.some((f) => f.event === "response.output_text.delta"));
      abort.abort();
      const abortedAt = Date.now();
      // The account's only slot is held by the stalled drain until the idle bound ends it.
      const second = await postJson(url, tenant.key, { model: "gpt-4o", input: "b" });
      const body = (await second.json()) as { status?: string };
      expect(second.status).toBe(200);
      expect(body.status).toBe("completed");
      expect(Date.now() - abortedAt).toBeLessThan(10_000); // the total bound is 60 s
      await stack.admin.updateSettings({ settings: {} });
    });
  });

  describe("when the upstream stalls after output began", () => {
    beforeAll(async () => {
      // The shortest values the settings accept; they reach data planes in the next snapshot.
      await stack.admin.updateSettings({
        settings: { streamIdleTimeoutMs: 10_000, streamKeepaliveIntervalMs: 1000, clientGoneDrainMs: 1000 },
      });
      await sleep(1500);
    });

    it("keeps the client connection alive with `: keepalive` comments between whole events", async () => {
      const tenant = await seedStackTenant(stack);
      stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, stall: { afterEvents: 6 } });
      const abort = new AbortController();
      const res = await postJson(
        `${stack.dataPlane.url}/v1/responses`,
        tenant.key,
        { model: "gpt-4o", input: "hello", stream: true },
        abort.signal,
      );
      const reader = new SseBodyReader(res);
      const timer = setTimeout(() => abort.abort(), 6000);
      const sawKeepalives = await reader
        .readUntil((frames) => frames.filter((f) => f.comment === "keepalive").length >= 2)
        .catch(() => false);
      clearTimeout(timer);
      abort.abort();

      expect(sawKeepalives).toBe(true);
      const frames = reader.frames;
      const firstKeepalive = frames.findIndex((f) => f.comment === "keepalive");
      expect(frames.slice(0, firstKeepalive).map((f) => f.event)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
      ]);
      expect(frames.slice(firstKeepalive).every((f) => f.comment === "keepalive")).toBe(true);
    });

    it("ends the stream in-band with stream_timeout once the stream idle timeout passes", async () => {
      const tenant = await seedStackTenant(stack);
      stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, stall: { afterEvents: 6 } });
      const abort = new AbortController();
      const started = Date.now();
      const res = await postJson(
        `${stack.dataPlane.url}/v1/responses`,
        tenant.key,
        { model: "gpt-4o", input: "hello", stream: true },
        abort.signal,
      );
      const reader = new SseBodyReader(res);
      // 10 s idle timeout, checked on undici's coarse timer: give up waiting after 16 s.
      const timer = setTimeout(() => abort.abort(), 16_000);
      const ended = await reader
        .readUntil((frames) => frames.some((f) => f.event === "response.failed"))
        .catch(() => false);
      clearTimeout(timer);
      abort.abort();
      const elapsed = Date.now() - started;

      expect(ended, `no response.failed within ${elapsed} ms`).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(9000);
      const events = reader.frames.map((f) => f.event);
      expect(events).not.toContain("response.completed");
      const failed = JSON.parse(reader.frames.find((f) => f.event === "response.failed")?.data ?? "{}") as {
        response: { error: { code: string } };
      };
      expect(failed.response.error.code).toBe("stream_timeout");
      const records = await waitForUsage(stack.admin, tenant.userId, (r) => r.length >= 1);
      expect(records.map((r) => r.outcome)).toEqual([Outcome.TRUNCATED]);
    });
  });
});
