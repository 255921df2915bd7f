import { describe, expect, it } from "vitest";
import { adapterFor, knownUpstreamKinds } from "../../../src/data-plane/upstream/adapters.js";
import { openAIEndpointUrl } from "../../../src/data-plane/upstream/openai-apikey/endpoint-url.js";
import {
  openAIRequestHeaders,
  openAIResponseHeaders,
} from "../../../src/data-plane/upstream/openai-apikey/header-allowlist.js";
import { openAIRequestBody } from "../../../src/data-plane/upstream/openai-apikey/request-body.js";
import type { RequestBodyInput } from "../../../src/data-plane/upstream/upstream-adapter.js";

describe("adapter registry", () => {
  it("serves openai-apikey and chatgpt-oauth, and nothing it does not know", () => {
    expect(adapterFor("openai-apikey")?.kind).toBe("openai-apikey");
    expect(adapterFor("chatgpt-oauth")?.kind).toBe("chatgpt-oauth");
    expect(adapterFor("anthropic-oauth")).toBeUndefined();
    expect(knownUpstreamKinds()).toEqual(["openai-apikey", "chatgpt-oauth"]);
  });
});

describe("endpoint URL", () => {
  it.each([
    ["https://api.openai.com", "responses", "https://api.openai.com/v1/responses"],
    ["https://api.openai.com/", "responses", "https://api.openai.com/v1/responses"],
    ["https://api.openai.com/v1", "responses", "https://api.openai.com/v1/responses"],
    ["https://api.openai.com/v1/", "responses", "https://api.openai.com/v1/responses"],
    ["https://api.openai.com/v1///", "chat", "https://api.openai.com/v1/chat/completions"],
    ["https://api.openai.com", "chat", "https://api.openai.com/v1/chat/completions"],
    ["https://gw.example/openai", "responses", "https://gw.example/openai/v1/responses"],
    ["https://gw.example/openai/v1", "chat", "https://gw.example/openai/v1/chat/completions"],
    ["https://gw.example/v10", "responses", "https://gw.example/v10/v1/responses"],
    ["http://127.0.0.1:8080", "chat", "http://127.0.0.1:8080/v1/chat/completions"],
    ["", "responses", "https://api.openai.com/v1/responses"],
    ["  https://api.openai.com/v1  ", "responses", "https://api.openai.com/v1/responses"],
  ] as const)("%j + %s → %s", (base, api, expected) => {
    expect(openAIEndpointUrl(base, api)).toBe(expected);
  });
});

describe("request headers", () => {
  const client = {
    accept: "text/event-stream",
    "accept-language": "en",
    "content-type": "application/json",
    "user-agent": "codex_cli_rs/0.50.0",
    "openai-beta": "responses=experimental",
    session_id: "sess-1",
    conversation_id: "conv-1",
    originator: "codex_cli_rs",
    "x-codex-turn-metadata": "abc",
    "x-codex-beta-features": ["a", "b"],
    authorization: "Bearer sk-sy-client-key",
    "x-api-key": "sk-sy-client-key",
    "api-key": "sk-sy-client-key",
    cookie: "session=secret",
    host: "gateway.local",
    "content-length": "123",
    connection: "keep-alive",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    upgrade: "h2c",
    expect: "100-continue",
    "proxy-authorization": "Basic eA==",
    te: "trailers",
    "accept-encoding": "gzip, br",
    "x-forwarded-for": "10.0.0.1",
    "x-request-id": "client-req",
    "openai-organization": "org-client",
    missing: undefined,
  };

  it("keeps only the allowlist and x-codex-*, and adds the account's credential", () => {
    expect(openAIRequestHeaders(client, "sk-upstream")).toEqual({
      accept: "text/event-stream",
      "accept-language": "en",
      "content-type": "application/json",
      "user-agent": "codex_cli_rs/0.50.0",
      "openai-beta": "responses=experimental",
      session_id: "sess-1",
      conversation_id: "conv-1",
      originator: "codex_cli_rs",
      "x-codex-turn-metadata": "abc",
      "x-codex-beta-features": "a, b",
      authorization: "Bearer sk-upstream",
    });
  });

  it("never forwards the client's authorization, even without other headers", () => {
    const headers = openAIRequestHeaders({ authorization: "Bearer sk-sy-client" }, "sk-upstream");
    expect(headers).toEqual({ authorization: "Bearer sk-upstream" });
  });
});

describe("response headers", () => {
  it("passes the allowlist, renames x-request-id and drops the rest", () => {
    const upstream = {
      "content-type": "text/event-stream; charset=utf-8",
      "openai-processing-ms": "42",
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-remaining-tokens": "29000",
      "x-ratelimit-reset-requests": "120ms",
      "x-request-id": "req_up_1",
      "openai-organization": "org-upstream",
      "openai-version": "2020-10-01",
      "set-cookie": ["__cf_bm=x", "_cfuvid=y"],
      "content-length": "10",
      "transfer-encoding": "chunked",
      connection: "keep-alive",
      "cf-ray": "abc",
      server: "cloudflare",
    };
    expect(openAIResponseHeaders(upstream)).toEqual({
      "content-type": "text/event-stream; charset=utf-8",
      "openai-processing-ms": "42",
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-remaining-tokens": "29000",
      "x-ratelimit-reset-requests": "120ms",
      "x-upstream-request-id": "req_up_1",
    });
  });
});

function bodyInput(
  api: "responses" | "chat",
  body: Record<string, unknown>,
  upstreamModel: string,
): RequestBodyInput {
  return { api, body, raw: Buffer.from(JSON.stringify(body)), upstreamModel };
}

describe("request body", () => {
  it("reuses the client's bytes when nothing changes", () => {
    const input = bodyInput("responses", { model: "gpt-4o", input: "hi", stream: true }, "gpt-4o");
    const out = openAIRequestBody(input);
    expect(out.bytes).toBe(input.raw);
    expect(out.hideChatUsageChunk).toBe(false);
  });

  it("reuses the bytes when no upstream model is mapped", () => {
    const input = bodyInput("chat", { model: "gpt-4o", messages: [] }, "");
    expect(openAIRequestBody(input).bytes).toBe(input.raw);
  });

  it("sets the mapped model, keeps key order and leaves the parsed object alone", () => {
    const body = { input: "hi", model: "alias", store: false };
    const input = bodyInput("responses", body, "gpt-4.1");
    const out = openAIRequestBody(input);
    expect(out.bytes.toString()).toBe('{"input":"hi","model":"gpt-4.1","store":false}');
    expect(body.model).toBe("alias");
  });

  it("asks a chat stream for usage and says the client did not", () => {
    const body = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true };
    const out = openAIRequestBody(bodyInput("chat", body, "gpt-4o"));
    expect(JSON.parse(out.bytes.toString())).toEqual({ ...body, stream_options: { include_usage: true } });
    expect(out.hideChatUsageChunk).toBe(true);
    expect(body).not.toHaveProperty("stream_options");
  });

  it("keeps the client's other stream options when adding include_usage", () => {
    const body = { model: "m", messages: [], stream: true, stream_options: { include_obfuscation: false } };
    const out = openAIRequestBody(bodyInput("chat", body, "m"));
    expect(JSON.parse(out.bytes.toString()).stream_options).toEqual({
      include_obfuscation: false,
      include_usage: true,
    });
    expect(out.hideChatUsageChunk).toBe(true);
  });

  it("leaves a chat stream that asked for usage itself untouched", () => {
    const input = bodyInput(
      "chat",
      { model: "m", messages: [], stream: true, stream_options: { include_usage: true } },
      "m",
    );
    const out = openAIRequestBody(input);
    expect(out.bytes).toBe(input.raw);
    expect(out.hideChatUsageChunk).toBe(false);
  });

  it("does not add stream options to non-stream chat or to Responses streams", () => {
    const chat = bodyInput("chat", { model: "m", messages: [] }, "m");
    expect(openAIRequestBody(chat)).toEqual({ bytes: chat.raw, hideChatUsageChunk: false });
    const responses = bodyInput("responses", { model: "m", input: "x", stream: true }, "m");
    expect(openAIRequestBody(responses)).toEqual({ bytes: responses.raw, hideChatUsageChunk: false });
  });

  it("maps the model and adds include_usage in one rewrite", () => {
    const out = openAIRequestBody(
      bodyInput("chat", { model: "alias", messages: [], stream: true }, "gpt-4o"),
    );
    expect(JSON.parse(out.bytes.toString())).toEqual({
      model: "gpt-4o",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
  });
});
