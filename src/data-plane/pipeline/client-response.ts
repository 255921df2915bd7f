import { randomBytes } from "node:crypto";
import { type ServerResponse, STATUS_CODES } from "node:http";
import { ErrorCode, type OpenAIErrorBody, SwitchyardError, toOpenAIError } from "../../shared/errors.js";

/** Which client-facing API a request uses; decides the shape of in-band errors. */
export type ClientApi = "responses" | "chat";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** Whether the client has already received the status line (a wait ping or upstream bytes): errors go in-band then. */
export function streamStarted(res: ServerResponse): boolean {
  return res.headersSent;
}

/** Commits 200 and the SSE headers (first wait ping, or a streamed upstream response). */
export function startEventStream(res: ServerResponse, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(200, { ...SSE_HEADERS, ...extraHeaders });
  res.flushHeaders();
}

/** An SSE comment: keeps proxies and clients from timing out; SDKs ignore it. */
export function writePing(res: ServerResponse): void {
  startEventStream(res);
  res.write(": ping\n\n");
}

/**
 * Answers a failure the way the client can understand it at this point: the OpenAI error shape with its status
 * before anything was sent; after the stream started, one in-band error event (`response.failed` for /responses,
 * an error data event for chat) and the end of the stream — never a clean completion.
 */
export function sendFailure(res: ServerResponse, api: ClientApi, err: unknown, model: string): void {
  const answer = err instanceof ExchangeError ? exchangeAnswer(err) : toOpenAIError(err);
  if (!res.headersSent) {
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...answer.headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  if (!res.writableEnded) res.end(inBandError(api, answer.body, model));
}

/**
 * The in-band error frame for a stream that already started: chat gets an error data event (and no `[DONE]`
 * follows); /responses gets `response.failed` with a failed response object.
 */
export function inBandError(api: ClientApi, body: OpenAIErrorBody, model: string): string {
  if (api === "chat") return `data: ${JSON.stringify(body)}\n\n`;
  const response = {
    id: `resp_${randomBytes(12).toString("hex")}`,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status: "failed",
    model,
    output: [],
    error: { code: body.error.code ?? body.error.type, message: body.error.message },
    incomplete_details: null,
    usage: null,
  };
  // The top-level `error` makes SDKs raise (they throw on any event data with a truthy `error`); clients reading
  // the event by type find the failed response object as usual.
  const data = { type: "response.failed", response, error: { ...body.error } };
  return `event: response.failed\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Failures of the HTTP exchange itself, below the OpenAI API: what node's parser refuses and clients too slow to
 * send their request. They never cross the lease channel, so they are not codes of the shared set; this table is
 * their one mapping to statuses and OpenAI error bodies.
 */
export type ExchangeFailure =
  | "malformed"
  | "missing_host"
  | "unsupported_method"
  | "expectation_failed"
  | "headers_timeout"
  | "body_timeout"
  | "chunk_extensions_too_large"
  | "headers_too_large";

const EXCHANGE_FAILURES: Record<ExchangeFailure, { status: number; code: string | null; message: string }> = {
  malformed: { status: 400, code: null, message: "Malformed HTTP request" },
  missing_host: { status: 400, code: null, message: "Missing Host header" },
  unsupported_method: { status: 400, code: null, message: "Unsupported HTTP method" },
  expectation_failed: { status: 417, code: null, message: "Unsupported Expect header" },
  headers_timeout: {
    status: 408,
    code: "request_timeout",
    message: "Request headers were not received in time",
  },
  body_timeout: {
    status: 408,
    code: "request_timeout",
    message: "Request body was not received in time",
  },
  chunk_extensions_too_large: {
    status: 413,
    code: "request_too_large",
    message: "Request chunk extensions too large",
  },
  headers_too_large: {
    status: 431,
    code: "request_headers_too_large",
    message: "Request headers too large",
  },
};

/**
 * An {@link ExchangeFailure} raised inside the request pipeline (the body reader's idle timeout). It is an
 * INVALID_REQUEST for anything that only knows the shared codes; {@link sendFailure} answers it with its own
 * status, and with `connection: close` since the rest of the request was not read.
 */
export class ExchangeError extends SwitchyardError {
  readonly failure: ExchangeFailure;

  constructor(failure: ExchangeFailure) {
    super(ErrorCode.INVALID_REQUEST, { message: EXCHANGE_FAILURES[failure].message });
    this.failure = failure;
  }
}

function exchangeAnswer(err: ExchangeError) {
  const { status, code, message } = EXCHANGE_FAILURES[err.failure];
  const body: OpenAIErrorBody = { error: { type: "invalid_request_error", message, code, param: null } };
  return { status, headers: { connection: "close" }, body };
}

/**
 * A whole HTTP/1.1 answer to write straight to a socket, for failures seen before (or without) a response
 * object: the OpenAI error body with a JSON content type, its length, `connection: close` and a request id.
 */
export function rawExchangeAnswer(failure: ExchangeFailure, requestId: string): string {
  const { status, body } = exchangeAnswer(new ExchangeError(failure));
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    "content-type: application/json\r\n" +
    `content-length: ${Buffer.byteLength(text)}\r\n` +
    "connection: close\r\n" +
    `x-request-id: ${requestId}\r\n\r\n${text}`
  );
}
