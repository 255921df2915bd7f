import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSseFrames, postJson, responsesText, SseBodyReader, sleep } from "../support/e2e-sse.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

const FAKE_TEXT = "Hello from fake upstream.";

/** The part of a non-stream Responses body these tests read. */
interface ResponseBody {
  output: Array<{ content: Array<{ text: string }> }>;
}

describe("user concurrency on the data plane", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_concurrency" });
  });
  afterAll(() => stack?.stop());

  it("runs at most the user's concurrency upstream at once and completes every queued stream", async () => {
    const tenant = await seedStackTenant(stack, { userConcurrency: 2 });
    const client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    stack.fake.reset();
    // 11 frames, 40 ms apart: each upstream stream lasts ~400 ms.
    stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, eventDelayMs: 40 });

    const started = Date.now();
    const finals = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.responses.stream({ model: "gpt-4o", input: "hello" }).finalResponse(),
      ),
    );

    expect(finals.map((f) => f.status)).toEqual(Array(10).fill("completed"));
    expect(finals.map((f) => f.output_text)).toEqual(Array(10).fill(FAKE_TEXT));
    expect(stack.fake.total).toBe(10);
    expect(stack.fake.maxInFlight).toBe(2);
    // Five rounds of two: the queue really held the others back.
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 400);
  });

  it("sends `: ping` to a waiting stream before the upstream answers, then the real events", async () => {
    await stack.admin.updateSettings({ settings: { waitPingIntervalMs: 5000 } });
    await sleep(1500); // the settings reach data planes in the next snapshot
    const tenant = await seedStackTenant(stack, { userConcurrency: 1 });
    const apiKey = tenant.accounts[0]?.credential;
    stack.fake.reset();
    // The slot holder: 15 frames, 500 ms apart (~7 s). The waiter gets the default quick answer.
    stack.fake.script({ match: { apiKey }, events: 8, eventDelayMs: 500, times: 1 });
    stack.fake.script({ match: { apiKey } });
    const url = `${stack.dataPlane.url}/v1/responses`;

    const holder = postJson(url, tenant.key, { model: "gpt-4o", input: "hold", stream: true });
    await stack.fake.waitForInFlight(1);
    const sentAt = Date.now();
    const waiter = await postJson(url, tenant.key, { model: "gpt-4o", input: "wait", stream: true });
    const headersAt = Date.now();
    const reader = new SseBodyReader(waiter);
    const frames = await reader.readToEnd();
    const holderFrames = parseSseFrames(await (await holder).text());

    const waiterUpstream = stack.fake.requests[1];
    expect(waiterUpstream).toBeDefined();
    expect(waiter.status).toBe(200);
    expect(waiter.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // Status and headers were committed by the ping, while the upstream had not even been asked yet.
    expect(headersAt - sentAt).toBeGreaterThanOrEqual(4000);
    expect(headersAt).toBeLessThan(waiterUpstream?.receivedAt ?? 0);
    expect(reader.firstBytesAt ?? Number.POSITIVE_INFINITY).toBeLessThan(waiterUpstream?.receivedAt ?? 0);
    expect(frames[0]).toEqual({ comment: "ping" });
    const events = frames.filter((f) => f.event !== undefined).map((f) => f.event);
    expect(events[0]).toBe("response.created");
    expect(events.at(-1)).toBe("response.completed");
    expect(responsesText(frames)).toBe(FAKE_TEXT);
    expect(holderFrames.filter((f) => f.event !== undefined).at(-1)?.event).toBe("response.completed");
  });

  it("answers 429 at once when 20 requests already wait, and still serves the 21 admitted ones", async () => {
    const tenant = await seedStackTenant(stack, { userConcurrency: 1 });
    const apiKey = tenant.accounts[0]?.credential;
    stack.fake.reset();
    stack.fake.script({ match: { apiKey }, headersDelayMs: 3000, times: 1 });
    stack.fake.script({ match: { apiKey } });
    const url = `${stack.dataPlane.url}/v1/responses`;
    const ask = (input: string) => postJson(url, tenant.key, { model: "gpt-4o", input });

    const holder = ask("hold");
    await stack.fake.waitForInFlight(1);
    const waiting = Array.from({ length: 20 }, (_, i) => ask(`wait ${i}`));
    await sleep(1000); // all 20 reach the wait queue
    const sentAt = Date.now();
    const rejected = await ask("one too many");
    const rejectedAfterMs = Date.now() - sentAt;
    const rejectedBody = (await rejected.json()) as { error: { type: string; message: string } };

    expect(rejected.status).toBe(429);
    expect(rejectedAfterMs).toBeLessThan(1000);
    expect(rejectedBody.error.type).toBe("rate_limit_error");
    expect(rejectedBody.error.message).toBe("Too many pending requests, please retry later");

    const admitted = await Promise.all([holder, ...waiting]);
    const bodies = (await Promise.all(admitted.map((r) => r.json()))) as ResponseBody[];
    expect(admitted.map((r) => r.status)).toEqual(Array(21).fill(200));
    expect(bodies.map((b) => b.output[0]?.content[0]?.text)).toEqual(Array(21).fill(FAKE_TEXT));
    expect(stack.fake.total).toBe(21);
    expect(stack.fake.maxInFlight).toBe(1);
  });
});
