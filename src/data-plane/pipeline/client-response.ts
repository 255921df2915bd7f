import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type OpenAIErrorBody, toOpenAIError } from "../../shared/errors.js";

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
  const answer = toOpenAIError(err);
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
