import { describe, expect, it } from "vitest";
import {
  classifyErrorResponse,
  classifyTransportError,
  emptyStreamFailure,
  exhaustedError,
  isStreamIdleTimeout,
} from "../../../src/data-plane/upstream/failure.js";
import { UnsupportedProxyError } from "../../../src/data-plane/upstream/upstream-pool.js";
import { ErrorCode, SwitchyardError, toOpenAIError } from "../../../src/shared/errors.js";

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

function openAIError(message: string, code: string | null = null, type = "invalid_request_error"): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

describe("classifying an upstream error answer", () => {
  it.each([
    [401, openAIError("Incorrect API key provided: sk-abc***", "invalid_api_key"), true],
    [402, openAIError("Payment required"), true],
    [
      403,
      openAIError("Country, region, or territory not supported", "unsupported_country_region_territory"),
      true,
    ],
    [405, "Method Not Allowed", true],
    [429, openAIError("Rate limit reached for requests", "rate_limit_exceeded", "requests"), true],
    [429, openAIError("You exceeded your current quota", "insufficient_quota", "insufficient_quota"), true],
    [500, openAIError("The server had an error", null, "server_error"), true],
    [502, "<html><body>502 Bad Gateway</body></html>", true],
    [503, "", true],
    [529, openAIError("Overloaded"), true],
    [413, openAIError("Request too large"), true],
    [
      413,
      openAIError("Your input exceeds the context window of this model.", "context_length_exceeded"),
      false,
    ],
    [400, openAIError("The server is currently overloaded with other requests."), true],
    [
      400,
      openAIError("This model's maximum context length is 128000 tokens.", "context_length_exceeded"),
      false,
    ],
    [400, openAIError("Invalid value for 'temperature'", "invalid_value"), false],
    [404, openAIError("The model `gpt-9` does not exist", "model_not_found"), false],
    [422, "unprocessable", false],
  ])("%i %s → failover %s", (status, body, failover) => {
    const failure = classifyErrorResponse(status, {}, Buffer.from(body), NOW);
    expect(failure.kind).toBe("http_status");
    expect(failure.status).toBe(status);
    expect(failure.failover).toBe(failover);
  });

  it("takes the message from the OpenAI error shape", () => {
    const failure = classifyErrorResponse(401, {}, openAIError("Incorrect API key provided."), NOW);
    expect(failure.message).toBe("Incorrect API key provided.");
  });

  it.each([
    ['{"error":"upstream exploded"}', "upstream exploded"],
    ['{"message":"plain message"}', "plain message"],
    ["Service   Unavailable\n\n", "Service Unavailable"],
    ["", "HTTP 503"],
  ])("reads %j as %j", (body, message) => {
    expect(classifyErrorResponse(503, {}, body, NOW).message).toBe(message);
  });

  it("masks a secret key the upstream echoes", () => {
    const body = openAIError("Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx. Check it.");
    const { message } = classifyErrorResponse(401, {}, body, NOW);
    expect(message).toBe("Incorrect API key provided: sk-proj…. Check it.");
    const words = openAIError("the task-runnerservice disk-quotaexceeded");
    expect(classifyErrorResponse(401, {}, words, NOW).message).toBe(
      "the task-runnerservice disk-quotaexceeded",
    );
  });

  it("cuts long messages to 200 characters", () => {
    const failure = classifyErrorResponse(500, {}, openAIError("x".repeat(5000)), NOW);
    expect(failure.message).toHaveLength(200);
    expect(failure.message.endsWith("…")).toBe(true);
  });

  it("finds the failover keyword in the first 8 KiB of a huge body that is not parsed", () => {
    const body = Buffer.from(`server overloaded ${"y".repeat(100_000)}`);
    const failure = classifyErrorResponse(400, {}, body, NOW);
    expect(failure.failover).toBe(true);
    expect(failure.message.length).toBeLessThanOrEqual(200);
  });

  it("gives a 429 its reset and nothing else one", () => {
    const headers = { "retry-after": "3", "x-ratelimit-reset-tokens": "20ms" };
    expect(classifyErrorResponse(429, headers, openAIError("slow"), NOW).resetAfterMs).toBe(20);
    expect(classifyErrorResponse(503, headers, openAIError("down"), NOW).resetAfterMs).toBe(0);
    const usageLimit = JSON.stringify({ error: { type: "usage_limit_reached", resets_in_seconds: 42 } });
    expect(classifyErrorResponse(429, {}, usageLimit, NOW).resetAfterMs).toBe(42_000);
  });
});

function undiciError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("classifying a thrown transport error", () => {
  it.each([
    [
      undiciError("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error"),
      "headers_timeout",
      "UND_ERR_HEADERS_TIMEOUT: Headers Timeout Error",
    ],
    [
      undiciError("UND_ERR_CONNECT_TIMEOUT", "Connect Timeout Error"),
      "transport",
      "UND_ERR_CONNECT_TIMEOUT: Connect Timeout Error",
    ],
    [undiciError("UND_ERR_SOCKET", "other side closed"), "transport", "UND_ERR_SOCKET: other side closed"],
    [
      undiciError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"),
      "transport",
      "connect ECONNREFUSED 127.0.0.1:1",
    ],
    [
      undiciError("ENOTFOUND", "getaddrinfo ENOTFOUND nowhere.invalid"),
      "transport",
      "getaddrinfo ENOTFOUND nowhere.invalid",
    ],
    [
      undiciError("UND_ERR_BODY_TIMEOUT", "Body Timeout Error"),
      "transport",
      "UND_ERR_BODY_TIMEOUT: Body Timeout Error",
    ],
    [
      new UnsupportedProxyError("socks5 proxies are not supported"),
      "transport",
      "socks5 proxies are not supported",
    ],
    ["a string", "transport", "a string"],
  ] as const)("%s → %s", (error, kind, message) => {
    expect(classifyTransportError(error)).toEqual({
      kind,
      status: 0,
      resetAfterMs: 0,
      message,
      failover: true,
    });
  });

  it("names the code of an AggregateError (dual-stack connect) that has no message", () => {
    const error = Object.assign(new AggregateError([new Error("connect ECONNREFUSED ::1:1")], ""), {
      code: "ECONNREFUSED",
    });
    expect(classifyTransportError(error).message).toBe("connect ECONNREFUSED ::1:1");
  });

  it("tells a body idle timeout apart", () => {
    expect(isStreamIdleTimeout(undiciError("UND_ERR_BODY_TIMEOUT", "Body Timeout Error"))).toBe(true);
    expect(isStreamIdleTimeout(undiciError("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error"))).toBe(false);
  });

  it("has an empty-stream failure that fails over", () => {
    expect(emptyStreamFailure()).toMatchObject({ kind: "empty_stream", status: 0, failover: true });
  });
});

describe("the answer once failover is exhausted", () => {
  it.each([
    [
      401,
      ErrorCode.UPSTREAM_AUTH_FAILED,
      502,
      "Upstream authentication failed, please contact administrator",
    ],
    [403, ErrorCode.UPSTREAM_FORBIDDEN, 502, "Upstream access forbidden, please contact administrator"],
    [429, ErrorCode.UPSTREAM_RATE_LIMITED, 429, "Upstream rate limit exceeded, please retry later"],
    [529, ErrorCode.UPSTREAM_OVERLOADED, 503, "Upstream service overloaded, please retry later"],
    [500, ErrorCode.UPSTREAM_UNAVAILABLE, 502, "Upstream service temporarily unavailable"],
    [502, ErrorCode.UPSTREAM_UNAVAILABLE, 502, "Upstream service temporarily unavailable"],
    [503, ErrorCode.UPSTREAM_UNAVAILABLE, 502, "Upstream service temporarily unavailable"],
    [504, ErrorCode.UPSTREAM_UNAVAILABLE, 502, "Upstream service temporarily unavailable"],
    [402, ErrorCode.UPSTREAM_FAILED, 502, "Upstream request failed"],
    [405, ErrorCode.UPSTREAM_FAILED, 502, "Upstream request failed"],
    [501, ErrorCode.UPSTREAM_FAILED, 502, "Upstream request failed"],
    [0, ErrorCode.UPSTREAM_FAILED, 502, "Upstream request failed"],
  ])("%i → %s (HTTP %i)", (status, code, httpStatus, message) => {
    const error = exhaustedError(status);
    expect(error).toBeInstanceOf(SwitchyardError);
    expect(error.code).toBe(code);
    const answer = toOpenAIError(error);
    expect(answer.status).toBe(httpStatus);
    expect(answer.body.error.message).toBe(message);
    expect(answer.headers).toEqual({});
  });

  it.each([
    [7_000, "7"],
    [1_200, "2"],
    [3_600_000, "60"],
  ])("a 429 with reset %i ms tells the client Retry-After %s", (resetAfterMs, retryAfter) => {
    const answer = toOpenAIError(exhaustedError(429, resetAfterMs));
    expect(answer.body.error.type).toBe("rate_limit_error");
    expect(answer.headers["retry-after"]).toBe(retryAfter);
  });
});
