import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { newId } from "./ids.js";

/** One request/response pair and what the fake knows about it while answering. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly arrivedAt: number;
  /** True once the response finished or the connection went away; answering stops there. */
  closed: boolean;
}

/** Starts tracking an exchange; `onClose` runs once when the response finishes or the socket closes. */
export function openExchange(req: IncomingMessage, res: ServerResponse, onClose?: () => void): Exchange {
  const exchange: Exchange = { req, res, requestId: newId("req_"), arrivedAt: Date.now(), closed: false };
  res.once("close", () => {
    exchange.closed = true;
    onClose?.();
  });
  return exchange;
}

export const JSON_TYPE = "application/json";
export const SSE_TYPE = "text/event-stream; charset=utf-8";

/** The headers every OpenAI answer carries, then the scripted extras (which may override them). */
export function replyHeaders(
  exchange: Exchange,
  contentType: string,
  extra: Record<string, string> | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    "content-type": contentType,
    "x-request-id": exchange.requestId,
    "openai-processing-ms": String(Date.now() - exchange.arrivedAt),
    "openai-version": "2020-10-01",
  };
  if (contentType === SSE_TYPE) headers["cache-control"] = "no-cache";
  return extra === undefined ? headers : Object.assign(headers, extra);
}

/** Sends a complete body in one write. */
export function sendBody(
  exchange: Exchange,
  status: number,
  body: string,
  contentType: string,
  extra?: Record<string, string>,
): void {
  if (exchange.closed) return;
  const headers = replyHeaders(exchange, contentType, extra);
  headers["content-length"] = Buffer.byteLength(body);
  exchange.res.writeHead(status, headers).end(body);
}

/** Sends a JSON body. */
export function sendJson(
  exchange: Exchange,
  status: number,
  body: unknown,
  extra?: Record<string, string>,
): void {
  sendBody(exchange, status, JSON.stringify(body), JSON_TYPE, extra);
}

/** Waits `ms`; resolves false (early) when the client went away meanwhile, so the caller stops. */
export function pause(exchange: Exchange, ms: number): Promise<boolean> {
  if (exchange.closed) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      exchange.res.off("close", onClose);
      resolve(true);
    }, ms);
    exchange.res.once("close", onClose);
  });
}

/**
 * Aborts the TCP connection with a reset. Bytes already written get a turn of the event loop to leave first, so a
 * mid-stream reset is seen after the events that preceded it.
 */
export function resetConnection(exchange: Exchange): void {
  const socket = exchange.req.socket;
  if (exchange.res.headersSent) {
    setImmediate(() => socket.resetAndDestroy());
  } else {
    socket.resetAndDestroy();
  }
}

/**
 * Writes `body` `bytes` at a time, `everyMs` apart (a slow-loris upstream), then ends the response; stops early
 * when the client goes away. Headers must already be sent.
 */
export async function trickleBody(
  exchange: Exchange,
  body: string,
  trickle: { bytes: number; everyMs: number },
): Promise<void> {
  const bytes = Buffer.from(body, "utf8");
  for (let at = 0; at < bytes.length; at += trickle.bytes) {
    if (at > 0 && !(await pause(exchange, trickle.everyMs))) return;
    exchange.res.write(bytes.subarray(at, at + trickle.bytes));
  }
  exchange.res.end();
}
