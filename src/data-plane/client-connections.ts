import type { IncomingMessage, Server, ServerOptions, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { newRequestId } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import {
  ExchangeError,
  type ExchangeFailure,
  rawExchangeAnswer,
  sendFailure,
} from "./pipeline/client-response.js";

/** How long a client may take to send its request (config: SWITCHYARD_CLIENT_*_TIMEOUT_MS). */
export interface ClientTimeouts {
  /** From a connection's opening, or a request's first byte, to the end of its headers. */
  headersMs: number;
  /** Longest silence while a request body arrives. */
  bodyIdleMs: number;
}

/** Idle keep-alive connections are kept longer than the 60 s idle timeout common load balancers use. */
const KEEP_ALIVE_MS = 65_000;

/**
 * After answering a request node's parser refused, how long what the client still sends is read and dropped
 * before the connection is destroyed: closing on unread input makes the kernel send a reset, which can make the
 * client lose the answer (the "lingering close" of nginx and Apache).
 */
const LINGER_MS = 2_000;

/**
 * Node's server options for client-facing connections. `requestTimeout` stays 0: it bounds a whole request,
 * body included, whatever its pace, so it would cut a slow but steady upload; the body has an idle timeout in
 * the pipeline instead. Node checks `headersTimeout` only every `connectionsCheckingInterval` (30 s by
 * default), so the check runs every second at most. The Host requirement moves to the app, which answers it in
 * the OpenAI shape (node's own 400 has no body).
 */
export function clientServerOptions(timeouts: ClientTimeouts): ServerOptions {
  return {
    keepAliveTimeout: KEEP_ALIVE_MS,
    requestTimeout: 0,
    headersTimeout: timeouts.headersMs,
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    requireHostHeader: false,
  };
}

/**
 * What the data plane does below Express for every client connection:
 * - requests node's parser refuses (bad request line, method, framing; headers too large; headers too slow),
 *   CONNECT requests and unsupported `Expect` values are answered in the OpenAI error shape, never with node's
 *   empty bodies, and the connection is closed;
 * - a request body left unread once its response finished (an early 401, 404 or 413) may stay silent at most
 *   `bodyIdleMs` before the connection is closed;
 * - a client that half-closes after its request still gets the whole response (see {@link allowHalfClose}).
 */
export function guardClientConnections(server: Server, timeouts: ClientTimeouts, log: Logger): void {
  allowHalfClose(server);
  const inFlight = new WeakMap<Duplex, Map<ServerResponse, IncomingMessage>>();
  const answered = new WeakSet<Duplex>();
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const open = inFlight.get(req.socket) ?? new Map<ServerResponse, IncomingMessage>();
    inFlight.set(req.socket, open);
    open.set(res, req);
    res.once("close", () => open.delete(res));
    res.once("finish", () => {
      if (!req.complete) limitUnreadBody(req, timeouts.bodyIdleMs);
    });
  });
  server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    try {
      // A parser in error state reports again for every later chunk: the first report was answered.
      if (answered.has(socket)) return;
      answered.add(socket);
      const failure = exchangeFailureOf(err.code);
      if (failure === null || !socket.writable) {
        socket.destroy();
        return;
      }
      log.debug({ code: err.code }, "client request refused by the http parser");
      answerRefusal(socket, failure, new Map(inFlight.get(socket)));
    } catch {
      socket.destroy();
    }
  });
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    answered.add(socket);
    answerAndClose(socket, "unsupported_method", false);
  });
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("x-request-id", newRequestId());
    sendFailure(res, "responses", new ExchangeError("expectation_failed"), "");
  });
}

/**
 * Answers what the parser refused in its place on the connection. Requests parsed before it (pipelined) are
 * answered first: reading stops, and the refusal follows their responses. A request whose body the refusal cut
 * can never complete: the refusal goes out at once if nothing of an answer was written yet (its pipeline then
 * sees its client gone), else the connection is destroyed. Alone on its connection, the refusal is answered at
 * once and the rest of what the client sends is read and dropped for a while (a timed-out parser is sound, so
 * there reading stops instead: it could still deliver a request).
 */
function answerRefusal(
  socket: Duplex,
  failure: ExchangeFailure,
  open: ReadonlyMap<ServerResponse, IncomingMessage>,
): void {
  if (open.size === 0) {
    if (failure === "headers_timeout") socket.pause();
    answerAndClose(socket, failure, failure !== "headers_timeout");
    return;
  }
  const responses = [...open.keys()];
  if ([...open.values()].some((req) => !req.complete)) {
    if (responses[0]?.headersSent) socket.destroy();
    else answerAndClose(socket, failure, false);
    return;
  }
  socket.pause();
  let left = responses.length;
  for (const res of responses) {
    res.once("close", () => {
      if (--left > 0) return;
      if (socket.writable) answerAndClose(socket, failure, false);
      else socket.destroy();
    });
  }
}

/**
 * Node ends a connection as soon as the client's FIN arrives, unless `httpAllowHalfOpen` is set (node 20's
 * `socketOnEnd`): a client (or a proxy) that half-closes after its last request byte then never sees its
 * response, and the pipeline takes it for gone. With the flag, a FIN after a complete request marks the
 * response as the connection's last one; a FIN in the middle of a request is still a parse error (answered
 * and closed above), and an idle connection is still ended at once. The price: a FIN alone no longer says
 * "gone". A client that really left is found by the next write, which the peer answers with a reset (the
 * relayed stream's events and the SSE wait pings write; a client that resets is seen at once); a non-streamed
 * answer to a client that closed its socket without a reset is only written at the end, as to a half-closed one.
 */
function allowHalfClose(server: Server): void {
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}

/** Which answer a `clientError` gets; null for socket errors (reset, broken pipe), which get none. */
function exchangeFailureOf(code: string | undefined): ExchangeFailure | null {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "headers_timeout";
  if (code === "HPE_HEADER_OVERFLOW") return "headers_too_large";
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return "chunk_extensions_too_large";
  if (code?.startsWith("HPE_")) return "malformed";
  return null;
}

/**
 * Writes the answer and half-closes; once it is flushed the connection is destroyed, at once or after
 * `LINGER_MS` of reading and dropping what the client still sends. A request still in the pipeline (a framing
 * error in its body) is not lingered on: the pipeline learns at once that its client is gone.
 */
function answerAndClose(socket: Duplex, failure: ExchangeFailure, linger: boolean): void {
  socket.end(rawExchangeAnswer(failure, newRequestId()));
  socket.once("finish", () => {
    if (!linger) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once("close", () => clearTimeout(timer));
  });
}

/**
 * Node drains the unread rest of a request body after its response so the connection can serve the next
 * request, for as long as the body keeps coming. A body that falls silent for `idleMs` costs the connection.
 */
function limitUnreadBody(req: IncomingMessage, idleMs: number): void {
  const timer = setTimeout(() => req.socket.destroy(), idleMs);
  req.on("data", () => timer.refresh());
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
}
