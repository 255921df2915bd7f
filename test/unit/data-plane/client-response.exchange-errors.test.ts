import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import {
  ExchangeError,
  rawExchangeAnswer,
  sendFailure,
} from "../../../src/data-plane/pipeline/client-response.js";
import { toOpenAIError } from "../../../src/shared/errors.js";

/** The parts of a ServerResponse sendFailure uses, recording what was written. */
function recordingResponse() {
  const written: { status?: number; headers?: Record<string, unknown>; body?: string } = {};
  const res = {
    headersSent: false,
    writableEnded: false,
    writeHead(status: number, headers: Record<string, unknown>) {
      Object.assign(written, { status, headers });
      this.headersSent = true;
      return this;
    },
    end(body: string) {
      written.body = body;
      this.writableEnded = true;
      return this;
    },
  };
  return { res: res as unknown as ServerResponse, written };
}

describe("exchange failures", () => {
  it("are answered by sendFailure with their own status, the OpenAI shape and connection: close", () => {
    const { res, written } = recordingResponse();
    sendFailure(res, "chat", new ExchangeError("body_timeout"), "gpt-4o");

    expect(written.status).toBe(408);
    expect(written.headers).toEqual({
      connection: "close",
      "content-type": "application/json",
      "content-length": Buffer.byteLength(written.body ?? ""),
    });
    expect(JSON.parse(written.body ?? "")).toEqual({
      error: {
        type: "invalid_request_error",
        message: "Request body was not received in time",
        code: "request_timeout",
        param: null,
      },
    });
  });

  it("are a plain 400 invalid_request_error for code that only knows the shared error codes", () => {
    expect(toOpenAIError(new ExchangeError("headers_too_large"))).toMatchObject({
      status: 400,
      body: { error: { type: "invalid_request_error", message: "Request headers too large" } },
    });
  });

  it.each([
    ["malformed", "400 Bad Request", null],
    ["headers_timeout", "408 Request Timeout", "request_timeout"],
    ["chunk_extensions_too_large", "413 Payload Too Large", "request_too_large"],
    ["headers_too_large", "431 Request Header Fields Too Large", "request_headers_too_large"],
  ] as const)("written raw to a socket (%s) form a whole HTTP/1.1 answer", (failure, statusText, code) => {
    const raw = rawExchangeAnswer(failure, "req_test");
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    const [statusLine, ...lines] = head.split("\r\n");

    expect(statusLine).toBe(`HTTP/1.1 ${statusText}`);
    expect(lines).toEqual([
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(body)}`,
      "connection: close",
      "x-request-id: req_test",
    ]);
    expect(JSON.parse(body)).toMatchObject({ error: { type: "invalid_request_error", code, param: null } });
  });
});
