import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { chatgptOAuthAdapter } from "../../../src/data-plane/upstream/chatgpt-oauth/adapter.js";
import { DEFAULT_INSTRUCTIONS } from "../../../src/data-plane/upstream/chatgpt-oauth/codex-body.js";
import type { ClientWants, UpstreamApi } from "../../../src/data-plane/upstream/upstream-adapter.js";
import { codexStream } from "../../support/fake-chatgpt/codex-wire.js";

const call = { chatgptAccountId: "acct-1", keyId: "key-1" };

function body(api: UpstreamApi, json: Record<string, unknown>, upstreamModel = "") {
  const out = chatgptOAuthAdapter.requestBody({
    api,
    body: json,
    raw: Buffer.from(JSON.stringify(json)),
    upstreamModel,
    call,
  });
  return {
    json: JSON.parse(out.bytes.toString("utf8")) as Record<string, unknown>,
    hide: out.hideChatUsageChunk,
  };
}

/** Runs a Codex SSE body through the translation for `wants` and returns what the client sink received. */
async function translate(
  frames: string[],
  wants: ClientWants,
): Promise<{ text: string; contentType: unknown }> {
  const translation = chatgptOAuthAdapter.translateResponse(
    { status: 200, headers: { "content-type": "text/event-stream" } },
    wants,
  );
  if (!translation) throw new Error("no translation");
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString("utf8");
      done();
    },
  });
  const writer = translation.wrap(sink);
  // Split frames mid-way, as a network would.
  const all = frames.join("");
  for (let i = 0; i < all.length; i += 37) writer.write(Buffer.from(all.slice(i, i + 37)));
  const ended = finished(writer);
  writer.end();
  await ended;
  return { text, contentType: translation.head.headers["content-type"] };
}

describe("chatgpt-oauth adapter: requests", () => {
  it("addresses {base}/responses for every client API", () => {
    expect(chatgptOAuthAdapter.endpointUrl("https://chatgpt.com/backend-api/codex/", "chat")).toBe(
      "https://chatgpt.com/backend-api/codex/responses",
    );
  });

  it("sends the token, the account id, SSE and a Codex-like client, never the client's credentials", () => {
    const headers = chatgptOAuthAdapter.requestHeaders(
      {
        authorization: "Bearer sk-sy-client",
        cookie: "a=b",
        "user-agent": "OpenAI/JS 6.0",
        session_id: "s-1",
      },
      "access-token",
      call,
    );
    expect(headers).toMatchObject({
      authorization: "Bearer access-token",
      "chatgpt-account-id": "acct-1",
      accept: "text/event-stream",
      originator: "codex_cli_rs",
      "openai-beta": "responses=experimental",
    });
    expect(headers["user-agent"]).toMatch(/^codex_cli_rs\//);
    expect(headers.cookie).toBeUndefined();
    expect(headers.session_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(headers.session_id).not.toBe("s-1");
  });

  it("applies the backend's body rules to a Responses request", () => {
    const { json } = body(
      "responses",
      {
        model: "gpt-5",
        input: "hi",
        stream: false,
        store: true,
        temperature: 1,
        top_p: 1,
        max_output_tokens: 10,
        metadata: {},
        user: "u",
        previous_response_id: "resp_1",
        reasoning: { effort: "high" },
        prompt_cache_key: "conv-1",
      },
      "gpt-5",
    );
    expect(json).toEqual({
      model: "gpt-5.1",
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }],
      stream: true,
      store: false,
      reasoning: { effort: "high" },
      include: ["reasoning.encrypted_content"],
      instructions: DEFAULT_INSTRUCTIONS,
      prompt_cache_key: expect.not.stringMatching(/^conv-1$/),
    });
  });

  it("moves system input messages into instructions", () => {
    const { json } = body("responses", {
      model: "gpt-5-codex",
      instructions: "first",
      input: [
        { role: "system", content: "second" },
        { type: "message", role: "user", content: "hi" },
      ],
    });
    expect(json.instructions).toBe("first\n\nsecond");
    expect(json.input).toEqual([{ type: "message", role: "user", content: "hi" }]);
    expect(json.model).toBe("gpt-5.1-codex");
  });

  it("converts a chat request (messages, tools, tool calls, reasoning effort) and drops what has no equivalent", () => {
    const { json, hide } = body("chat", {
      model: "o3",
      messages: [
        { role: "system", content: "sys" },
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image_url", image_url: { url: "data:x" } },
          ],
        },
        {
          role: "assistant",
          content: "",
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: "42" },
      ],
      tools: [
        { type: "function", function: { name: "f", description: "d", parameters: { type: "object" } } },
      ],
      tool_choice: { type: "function", function: { name: "f" } },
      reasoning_effort: "low",
      n: 2,
      stop: ["x"],
      max_tokens: 5,
      stream: true,
    });
    expect(json).toEqual({
      model: "o3",
      input: [
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "look" },
            { type: "input_image", image_url: "data:x" },
          ],
        },
        { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "42" },
      ],
      instructions: "sys",
      tools: [{ type: "function", name: "f", description: "d", parameters: { type: "object" } }],
      tool_choice: { type: "function", name: "f" },
      reasoning: { effort: "low" },
      include: ["reasoning.encrypted_content"],
      stream: true,
      store: false,
    });
    expect(hide).toBe(true);
  });
});

describe("chatgpt-oauth adapter: answers", () => {
  const frames = codexStream("gpt-5.1", null);

  it("rebuilds the final response for a Responses client that did not stream", async () => {
    const { text, contentType } = await translate(frames, {
      api: "responses",
      stream: false,
      model: "gpt-5",
    });
    const response = JSON.parse(text);
    expect(contentType).toBe("application/json");
    expect(response.model).toBe("gpt-5");
    expect(response.output[0].content[0].text).toBe("Hello from Codex");
    expect(response.usage.input_tokens).toBe(1200);
  });

  it("streams chat chunks with the finish reason, a usage chunk and [DONE]", async () => {
    const { text } = await translate(frames, { api: "chat", stream: true, model: "gpt-5" });
    const datas = text
      .split("\n\n")
      .filter((f) => f.startsWith("data: "))
      .map((f) => f.slice(6));
    expect(datas.at(-1)).toBe("[DONE]");
    const chunks = datas.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("Hello from Codex");
    expect(chunks.at(-2).choices[0].finish_reason).toBe("stop");
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 1200, completion_tokens: 50 },
    });
  });

  it("turns a function call into chat tool calls, whole or streamed", async () => {
    const calls = codexStream("gpt-5.1", "get_weather");
    const whole = JSON.parse((await translate(calls, { api: "chat", stream: false, model: "gpt-5" })).text);
    expect(whole.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: {
        content: null,
        tool_calls: [{ id: "call_1", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
    });
    const { text } = await translate(calls, { api: "chat", stream: true, model: "gpt-5" });
    expect(text).toContain('"finish_reason":"tool_calls"');
  });

  it("fails a buffered answer whose stream was cut before its terminal event (so the attempt can fail over)", async () => {
    const cut = frames.slice(0, 4);
    await expect(translate(cut, { api: "responses", stream: false, model: "gpt-5" })).rejects.toThrow(
      /ended before a response/,
    );
    await expect(translate(cut, { api: "chat", stream: false, model: "gpt-5" })).rejects.toThrow(
      /ended before a response/,
    );
  });

  it("ends a failed response in-band for chat streams, without [DONE]", async () => {
    const failed = [
      'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}\n\n',
      'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"}}}\n\n',
    ];
    const { text } = await translate(failed, { api: "chat", stream: true, model: "gpt-5" });
    expect(text).toContain('"error":{"type":"upstream_error","message":"boom","code":"server_error"');
    expect(text).not.toContain("[DONE]");
  });
});

describe("chatgpt-oauth adapter: usage windows and refusals", () => {
  const headers = {
    "x-codex-primary-used-percent": "100",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "600",
    "x-codex-secondary-used-percent": "55.5",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "90000",
  };

  it("reads both windows from the response headers", () => {
    expect(chatgptOAuthAdapter.reportedUsage(headers)).toEqual({
      primary: { usedPercent: 100, windowMinutes: 300, resetAfterSeconds: 600 },
      secondary: { usedPercent: 55.5, windowMinutes: 10080, resetAfterSeconds: 90000 },
    });
    expect(chatgptOAuthAdapter.reportedUsage({})).toBeUndefined();
  });

  it("rate-limits a 429 until the exhausted window resets, not the longer one", () => {
    const failure = chatgptOAuthAdapter.classifyErrorResponse(
      429,
      headers,
      '{"error":{"type":"usage_limit_reached","resets_in_seconds":90000}}',
      Date.now(),
    );
    expect(failure).toMatchObject({ status: 429, resetAfterMs: 600_000, failover: true });
  });

  it("names a revoked token in a 401's message", () => {
    const failure = chatgptOAuthAdapter.classifyErrorResponse(
      401,
      {},
      '{"error":{"message":"revoked","code":"token_revoked"}}',
      Date.now(),
    );
    expect(failure.message).toMatch(/^token_revoked: /);
  });
});
