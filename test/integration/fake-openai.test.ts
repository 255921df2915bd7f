import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type Behaviour,
  type FakeOpenAI,
  type ReceivedRequest,
  startFakeOpenAI,
} from "../support/fake-openai/index.js";

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

function client(apiKey = "sk-test-a", timeout = 5000): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${fake.url}/v1`, maxRetries: 0, timeout, logLevel: "off" });
}

function scripted(behaviour: Behaviour): { headers: Record<string, string> } {
  return { headers: { "x-fake-script": JSON.stringify(behaviour) } };
}

/** The error a promise rejects with, checked to be of `type`. */
async function rejection<T>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  if (outcome === undefined) throw new Error(`expected a rejection with ${type.name}, got a result`);
  expect(outcome.error).toBeInstanceOf(type);
  return outcome.error as T;
}

interface SseFrame {
  event: string | undefined;
  data: string;
}

/** Posts with fetch and splits the body into SSE frames exactly as sent. */
async function rawSse(
  path: string,
  body: unknown,
  behaviour: Behaviour,
): Promise<{ res: Response; frames: SseFrame[] }> {
  const res = await fetch(`${fake.url}${path}`, {
    method: "POST",
    headers: {
      authorization: "Bearer sk-raw",
      "content-type": "application/json",
      ...scripted(behaviour).headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const frames = text
    .split("\n\n")
    .filter((block) => block !== "")
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((line) => line.startsWith("event: "))?.slice(7);
      return { event, data: lines.find((line) => line.startsWith("data: "))?.slice(6) ?? "" };
    });
  return { res, frames };
}

const usageScript: Behaviour = {
  text: "The quick brown fox jumps",
  events: 4,
  usage: { input_tokens: 31, cached_tokens: 7, output_tokens: 9, reasoning_tokens: 3 },
};

describe("Responses API", () => {
  it("streams the scripted text and usage in the order the SDK accumulates", async () => {
    fake.script({ ...usageScript, responseId: "resp_fixed" });
    const stream = client().responses.stream({ model: "gpt-4.1", input: "hi" });
    const events: ResponseStreamEvent[] = [];
    stream.on("event", (event) => events.push(event));
    const response = await stream.finalResponse();
    expect(response.id).toBe("resp_fixed");
    expect(response.status).toBe("completed");
    expect(response.model).toBe("gpt-4.1");
    expect(response.output_text).toBe("The quick brown fox jumps");
    expect(response.usage).toMatchObject({
      input_tokens: 31,
      input_tokens_details: { cached_tokens: 7 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: 40,
    });
    expect(events.filter((e) => e.type === "response.output_text.delta")).toHaveLength(4);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[0]?.type).toBe("response.created");
    expect(events.at(-1)?.type).toBe("response.completed");
  });

  it("answers non-stream requests with a full Response and OpenAI's headers", async () => {
    fake.script(usageScript);
    const { data, response } = await client()
      .responses.create({ model: "gpt-4o", input: "hi" })
      .withResponse();
    expect(data.object).toBe("response");
    expect(data.id).toMatch(/^resp_/);
    expect(data.output_text).toBe("The quick brown fox jumps");
    expect(data.usage).toMatchObject({ input_tokens: 31, output_tokens: 9, total_tokens: 40 });
    expect(data.usage?.input_tokens_details.cached_tokens).toBe(7);
    expect(data.usage?.output_tokens_details.reasoning_tokens).toBe(3);
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(Number(response.headers.get("openai-processing-ms"))).toBeGreaterThanOrEqual(0);
  });

  it("a cut stream lacks response.completed: the SDK resolves the in-progress snapshot, or rejects if empty", async () => {
    // openai 6.49.0 does not reject finalResponse() when response.completed is missing: it returns the last
    // snapshot (status "in_progress", no usage). Only a stream with no event at all rejects.
    const cut = client().responses.stream({ model: "gpt-4o", input: "hi" }, scripted({ cutAfterEvents: 6 }));
    const partial = await cut.finalResponse();
    expect(partial.status).toBe("in_progress");
    expect(partial.usage ?? null).toBeNull();
    expect(partial.output_text).toBe("Hello from ");
    const empty = client().responses.stream(
      { model: "gpt-4o", input: "hi" },
      scripted({ cutAfterEvents: 0 }),
    );
    const error = await rejection(empty.finalResponse(), OpenAI.OpenAIError);
    expect(error.message).toBe("request ended without sending any events");

    const { res, frames } = await rawSse(
      "/v1/responses",
      { model: "gpt-4o", stream: true },
      { cutAfterEvents: 6 },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(frames.map((f) => f.event)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
    ]);
  });

  it("a failed stream resolves with status failed and the scripted error (no exception)", async () => {
    const failed = { code: "server_error", message: "upstream exploded" };
    const stream = client().responses.stream({ model: "gpt-4o", input: "hi" }, scripted({ failed }));
    const types: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    const response = await stream.finalResponse();
    expect(response.status).toBe("failed");
    expect(response.error).toEqual(failed);
    expect(response.output_text).toBe("");
    expect(types).toEqual(["response.created", "response.in_progress", "response.failed"]);
  });

  it("a malformed frame is sent after the first delta; the SDK rejects on it", async () => {
    const { frames } = await rawSse("/responses", { model: "gpt-4o", stream: true }, { malformed: true });
    expect(frames[4]?.event).toBe("response.output_text.delta");
    expect(frames[5]).toEqual({ event: "response.output_text.delta", data: "{not json" });
    expect(frames.at(-1)?.event).toBe("response.completed");
    const stream = client().responses.stream({ model: "gpt-4o", input: "hi" }, scripted({ malformed: true }));
    const error = await rejection(stream.finalResponse(), OpenAI.OpenAIError);
    expect(error.message).toMatch(/JSON/);
  });
});

describe("Chat Completions API", () => {
  const messages = [{ role: "user" as const, content: "hi" }];

  it("streams content chunks and a trailing usage chunk when include_usage is set", async () => {
    fake.script(usageScript);
    const stream = await client().chat.completions.create({
      model: "gpt-4o",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("The quick brown fox jumps");
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({
      prompt_tokens: 31,
      completion_tokens: 9,
      total_tokens: 40,
      prompt_tokens_details: { cached_tokens: 7 },
      completion_tokens_details: { reasoning_tokens: 3 },
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("sends no usage chunk without include_usage, and ends with [DONE]", async () => {
    const stream = await client().chat.completions.create({ model: "gpt-4o", messages, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from fake upstream.");
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    const { frames } = await rawSse(
      "/v1/chat/completions",
      { model: "gpt-4o", stream: true },
      { malformed: true },
    );
    expect(frames[2]?.data).toBe("{not json");
    expect(frames.at(-1)?.data).toBe("[DONE]");
  });

  it("answers non-stream with a chat.completion, and streams a scripted failure as an in-band error", async () => {
    const completion = await client().chat.completions.create(
      { model: "gpt-4o-mini", messages },
      scripted(usageScript),
    );
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.content).toBe("The quick brown fox jumps");
    expect(completion.usage).toMatchObject({ prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 });
    const failed = { code: "server_error", message: "mid-stream failure" };
    const stream = await client().chat.completions.create(
      { model: "gpt-4o", messages, stream: true },
      scripted({ failed }),
    );
    const consume = async () => {
      for await (const _ of stream);
    };
    const error = await rejection(consume(), OpenAI.APIError);
    expect(error.message).toBe("mid-stream failure");
    expect(error.code).toBe("server_error");
  });

  it("lists models", async () => {
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toContain("gpt-4o-mini");
    expect(models.data[0]).toMatchObject({ object: "model", owned_by: "system" });
  });
});

describe("errors and transport faults", () => {
  it("a scripted 429 surfaces as RateLimitError with its headers", async () => {
    fake.script({ status: 429, headers: { "retry-after": "7", "x-ratelimit-reset-requests": "7s" } });
    const error = await rejection(
      client().responses.create({ model: "gpt-4o", input: "hi" }),
      OpenAI.RateLimitError,
    );
    expect(error.status).toBe(429);
    expect(error.headers.get("retry-after")).toBe("7");
    expect(error.headers.get("x-ratelimit-reset-requests")).toBe("7s");
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.requestID).toMatch(/^req_/);
  });

  it("a scripted 400 carries type, code and param", async () => {
    const error = { type: "invalid_request_error", code: "context_length_exceeded", param: "input" };
    fake.script({ status: 400, error: { ...error, message: "too long" } });
    const thrown = await rejection(
      client().responses.create({ model: "gpt-4o", input: "x" }),
      OpenAI.BadRequestError,
    );
    expect(thrown.error).toEqual({ ...error, message: "too long" });
    expect(thrown.param).toBe("input");
  });

  it("a reset before headers is a connection error; mid-stream it rejects the stream", async () => {
    const early = client().responses.create(
      { model: "gpt-4o", input: "hi" },
      scripted({ reset: "before-headers" }),
    );
    const error = await rejection(early, OpenAI.APIConnectionError);
    expect(error).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const midway = client().responses.stream(
      { model: "gpt-4o", input: "hi" },
      scripted({ reset: { afterEvents: 5 } }),
    );
    const midError = await rejection(midway.finalResponse(), OpenAI.OpenAIError);
    expect(midError.message).toBe("terminated");
  });

  it("a stall before headers times the client out; the request was recorded and leaves inFlight", async () => {
    const stalled = client("sk-test-a", 300).responses.create(
      { model: "gpt-4o", input: "stall" },
      scripted({ stall: "before-headers" }),
    );
    const timedOut = rejection(stalled, OpenAI.APIConnectionTimeoutError);
    await fake.waitForInFlight(1, 2000);
    await timedOut;
    expect(fake.requests[0]?.body).toMatchObject({ input: "stall" });
    await fake.waitForInFlight(0, 2000);
  });

  it("a stall after events keeps the stream open until the caller aborts", async () => {
    const stream = client().responses.stream(
      { model: "gpt-4o", input: "hi" },
      scripted({ stall: { afterEvents: 5 } }),
    );
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (event) => {
      deltas.push(event.delta);
      stream.abort();
    });
    await rejection(stream.finalResponse(), OpenAI.APIUserAbortError);
    expect(deltas).toEqual(["Hello "]);
  });

  it("delays headers and events as scripted", async () => {
    const started = Date.now();
    const { res, frames } = await rawSse(
      "/v1/responses",
      { model: "gpt-4o", stream: true },
      { headersDelayMs: 250, eventDelayMs: 20, events: 2 },
    );
    expect(Number(res.headers.get("openai-processing-ms"))).toBeGreaterThanOrEqual(249);
    expect(frames).toHaveLength(10);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250 + 9 * 20 - 5);
  });

  it("answers non-JSON bodies with 400 and unknown paths with 404, in OpenAI's error shape", async () => {
    const bad = await fetch(`${fake.url}/v1/responses`, { method: "POST", body: "not json" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: "invalid_request_error", param: null } });
    expect(fake.requests[0]?.body).toBe("not json");
    const missing = await fetch(`${fake.url}/v1/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await missing.json()).toEqual({
      error: {
        message: "Invalid URL (GET /v1/nowhere)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });
});

describe("scripting", () => {
  const ask = (openai: OpenAI, model = "gpt-4o") => openai.responses.create({ model, input: "hi" });

  it("matches rules by API key, so one fake serves several upstream accounts", async () => {
    fake.script({ match: { apiKey: "sk-account-a" }, status: 429, headers: { "retry-after": "3" } });
    fake.script({ match: { apiKey: "sk-account-b" }, text: "account b answers" });
    const limited = await rejection(ask(client("sk-account-a")), OpenAI.RateLimitError);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect((await ask(client("sk-account-b"))).output_text).toBe("account b answers");
    expect((await ask(client("sk-account-c"))).output_text).toBe("Hello from fake upstream.");
    expect(fake.requests.map((r) => r.apiKey)).toEqual(["sk-account-a", "sk-account-b", "sk-account-c"]);
  });

  it("skips a rule once its times are used up, falling through to later rules", async () => {
    fake.script({ times: 2, status: 500 });
    fake.script({ match: { model: "o4-mini" }, text: "o4 says hi" });
    await rejection(ask(client()), OpenAI.InternalServerError);
    await rejection(ask(client()), OpenAI.InternalServerError);
    expect((await ask(client())).output_text).toBe("Hello from fake upstream.");
    expect((await ask(client(), "o4-mini")).output_text).toBe("o4 says hi");
  });

  it("matches by path with or without the /v1 prefix", async () => {
    fake.script({ match: { path: "/chat/completions" }, text: "chat only" });
    const messages = [{ role: "user" as const, content: "hi" }];
    const chat = await client().chat.completions.create({ model: "gpt-4o", messages });
    expect(chat.choices[0]?.message.content).toBe("chat only");
    expect((await ask(client())).output_text).toBe("Hello from fake upstream.");
  });

  it("lets an x-fake-script header override the rules without consuming them", async () => {
    fake.script({ times: 1, status: 503 });
    const overridden = await client().responses.create(
      { model: "gpt-4o", input: "hi" },
      scripted({ text: "override" }),
    );
    expect(overridden.output_text).toBe("override");
    const error = await rejection(ask(client()), OpenAI.InternalServerError);
    expect(error.status).toBe(503);
    const invalid = await fetch(`${fake.url}/v1/responses`, {
      method: "POST",
      headers: { "x-fake-script": JSON.stringify({ stall: "sideways" }) },
      body: "{}",
    });
    expect(invalid.status).toBe(400);
  });

  it("is scriptable and inspectable over the control endpoints, which it does not count", async () => {
    const rule = { match: { apiKey: "sk-remote" }, text: "scripted remotely" };
    const added = await fetch(`${fake.url}/__fake/scripts`, { method: "POST", body: JSON.stringify(rule) });
    expect(added.status).toBe(201);
    expect(await added.json()).toEqual({ rules: 1 });
    const bad = await fetch(`${fake.url}/__fake/scripts`, { method: "POST", body: '{"times":"x"}' });
    expect(bad.status).toBe(400);
    expect((await ask(client("sk-remote"))).output_text).toBe("scripted remotely");

    const stats = await fetch(`${fake.url}/__fake/stats`);
    expect(await stats.json()).toEqual({ inFlight: 0, maxInFlight: 1, total: 1 });
    const requests = (await (await fetch(`${fake.url}/__fake/requests`)).json()) as ReceivedRequest[];
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: "/v1/responses", apiKey: "sk-remote" });

    const reset = await fetch(`${fake.url}/__fake/reset`, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(await (await fetch(`${fake.url}/__fake/stats`)).json()).toEqual({
      inFlight: 0,
      maxInFlight: 0,
      total: 0,
    });
    expect(await (await fetch(`${fake.url}/__fake/requests`)).json()).toEqual([]);
    expect((await ask(client("sk-remote"))).output_text).toBe("Hello from fake upstream.");
  });
});

describe("traffic accounting", () => {
  it("counts concurrent requests in flight and keeps the high-water mark", async () => {
    const slow = scripted({ headersDelayMs: 300 });
    const calls = [1, 2, 3, 4].map(() => client().responses.create({ model: "gpt-4o", input: "hi" }, slow));
    await fake.waitForInFlight(4, 2000);
    expect(fake.inFlight).toBe(4);
    const responses = await Promise.all(calls);
    expect(responses.map((r) => r.status)).toEqual(["completed", "completed", "completed", "completed"]);
    await fake.waitForInFlight(0, 1000);
    expect(fake.maxInFlight).toBe(4);
    expect(fake.total).toBe(4);
  });

  it("records method, path, lower-cased headers, parsed body, API key and arrival time", async () => {
    const before = Date.now();
    await client("sk-recorded").responses.create(
      { model: "gpt-4o", input: "record me", metadata: { case: "1" } },
      { headers: { "X-Trace-Id": "trace-42" } },
    );
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request).toMatchObject({
      method: "POST",
      path: "/v1/responses",
      apiKey: "sk-recorded",
      body: { model: "gpt-4o", input: "record me", metadata: { case: "1" } },
    });
    expect(request?.headers["x-trace-id"]).toBe("trace-42");
    expect(request?.headers.authorization).toBe("Bearer sk-recorded");
    expect(request?.receivedAt).toBeGreaterThanOrEqual(before);
    expect(request?.receivedAt).toBeLessThanOrEqual(Date.now());
  });
});

describe("shutdown", () => {
  it("close() ends stalled requests instead of waiting for them", async () => {
    const doomed = await startFakeOpenAI();
    const before = fetch(`${doomed.url}/v1/responses`, {
      method: "POST",
      headers: { "x-fake-script": JSON.stringify({ stall: "before-headers" }) },
      body: "{}",
    });
    const beforeFailure = rejection(before, TypeError);
    const after = await fetch(`${doomed.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "x-fake-script": JSON.stringify({ stall: { afterEvents: 2 } }) },
      body: JSON.stringify({ stream: true }),
    });
    expect(after.status).toBe(200);
    await doomed.waitForInFlight(2, 2000);
    const started = Date.now();
    await doomed.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(doomed.inFlight).toBe(0);
    await beforeFailure;
    await rejection(after.text(), TypeError);
  });
});

describe("process mode", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  it("prints its URL on port 0, serves the SDK and exits 0 on SIGTERM", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const args = ["--import", "tsx", "test/support/fake-openai/main.ts", "--port", "0"];
    const spawned = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    child = spawned;
    if (spawned.stdout === null) throw new Error("no stdout pipe");
    const [line] = (await once(createInterface({ input: spawned.stdout }), "line")) as [string];
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url.endsWith(":0")).toBe(false);
    const remote = new OpenAI({ apiKey: "sk-process", baseURL: `${url}/v1`, maxRetries: 0 });
    const response = await remote.responses.create({ model: "gpt-4o", input: "hi" });
    expect(response.output_text).toBe("Hello from fake upstream.");
    const exited = once(spawned, "exit");
    spawned.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
  });
});
