import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/logger.js";
import { type Http2KeepaliveOptions, keepSessionAlive } from "./http2-keepalive.js";
import { type NodeHandler, sniffHttp2Preface } from "./preface-sniffer.js";
import { createTlsHandoff, type ServerTlsCredentials } from "./server-tls.js";

/** What a connection turned out to speak. */
export type HttpProtocol = "h2" | "http/1.1";

/**
 * Takes a freshly accepted TCP connection and calls `decided` once it knows what the connection speaks, with the
 * socket HTTP runs on (the connection itself, or the TLS socket around it). A connection that never decides is
 * destroyed by the handoff.
 */
export type ConnectionHandoff = (
  raw: net.Socket,
  decided: (socket: net.Socket, protocol: HttpProtocol) => void,
) => void;

/** Options for {@link createHttpListener}. */
export interface HttpListenerOptions {
  /** Serves every request, whichever HTTP version it came over. */
  handler: NodeHandler;
  log: Logger;
  keepalive: Http2KeepaliveOptions;
  /** How long a new connection may take to show its HTTP version (plaintext) or finish its TLS handshake. */
  prefaceTimeoutMs: number;
  /** null: plaintext, HTTP/2 (h2c, prior knowledge) told from HTTP/1.1 by the preface; else TLS, told by ALPN. */
  tls: ServerTlsCredentials | null;
}

/** One port speaking HTTP/2 and HTTP/1.1, in plaintext or over TLS. */
export interface HttpListener {
  /** Starts listening; resolves with the bound port (the real one when asked for port 0). */
  listen(host: string, port: number): Promise<number>;
  /**
   * Stops accepting connections, sends GOAWAY to HTTP/2 sessions and closes idle HTTP/1.1 connections, waits up to
   * `graceMs` for in-flight requests, then destroys whatever is left. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

/** Where an accepted connection stands: still undecided, or the socket HTTP runs on and what it speaks. */
type ConnectionState = "undecided" | { socket: net.Socket; protocol: HttpProtocol };

/** What the listener knows about its connections; shared by the servers it hands sockets to. */
interface Connections {
  closing: boolean;
  /** Every accepted TCP connection and where it stands. */
  readonly sockets: Map<net.Socket, ConnectionState>;
  readonly sessions: Set<http2.ServerHttp2Session>;
  /** HTTP/1.1 connections (by the socket HTTP runs on) with a request in flight, and how many. */
  readonly h1Active: Map<net.Socket, number>;
}

/**
 * A `net` server that finds out what each connection speaks — from its first bytes in plaintext, from ALPN over
 * TLS — and hands it to an HTTP/2 or an HTTP/1.1 server sharing one handler: a bare h2c server refuses HTTP/1.1
 * clients (curl, Connect JSON, gRPC-Web). TLS and plaintext share everything past the handoff (handler, keepalive,
 * shutdown). Every socket and session is tracked so shutdown is bounded (`http2Server.close()` alone waits for
 * idle sessions forever).
 */
export function createHttpListener(options: HttpListenerOptions): HttpListener {
  const { log } = options;
  const conns: Connections = { closing: false, sockets: new Map(), sessions: new Set(), h1Active: new Map() };
  let drained: () => void = () => undefined;
  const allClosed = new Promise<void>((resolve) => {
    drained = resolve;
  });
  const servers = {
    h2: createHttp2Server(options, conns),
    "http/1.1": createHttp1Server(options.handler, conns),
  };
  const handoff: ConnectionHandoff =
    options.tls === null
      ? (raw, decided) =>
          sniffHttp2Preface(raw, options.prefaceTimeoutMs, (isHttp2) =>
            decided(raw, isHttp2 ? "h2" : "http/1.1"),
          )
      : createTlsHandoff(options.tls, options.prefaceTimeoutMs, log);

  const server = net.createServer((raw) => {
    if (conns.closing) {
      raw.destroy();
      return;
    }
    conns.sockets.set(raw, "undecided");
    raw.on("error", (err) => log.debug({ err: err.message }, "connection error"));
    raw.once("close", () => {
      const state = conns.sockets.get(raw);
      if (state !== undefined && state !== "undecided") conns.h1Active.delete(state.socket);
      conns.sockets.delete(raw);
      if (conns.closing && conns.sockets.size === 0) drained();
    });
    handoff(raw, (socket, protocol) => {
      if (conns.closing || raw.destroyed) {
        socket.destroy();
        return;
      }
      conns.sockets.set(raw, { socket, protocol });
      servers[protocol].emit("connection", socket);
    });
  });

  let closed: Promise<void> | undefined;
  return {
    listen: (host, port) => listenOn(server, host, port),
    close(graceMs) {
      closed ??= (async () => {
        conns.closing = true;
        const stopped = server.listening
          ? new Promise<void>((r) => server.close(() => r()))
          : Promise.resolve();
        if (conns.sockets.size === 0) drained();
        closeIdle(conns);
        const timer = sleep(graceMs, "timeout" as const, { ref: false });
        if ((await Promise.race([allClosed, timer])) === "timeout") {
          log.warn({ connections: conns.sockets.size }, "shutdown grace period over; closing connections");
          destroyAll(conns);
        }
        await Promise.all([allClosed, stopped]);
      })();
      return closed;
    },
  };
}

/** Binds `server`; resolves with the bound port (the real one when asked for port 0). */
function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

/** The HTTP/1.1 side: counts requests per connection so shutdown can close each one once it is idle. */
function createHttp1Server(handler: NodeHandler, conns: Connections): http.Server {
  return http.createServer((req, res) => {
    const socket = req.socket;
    conns.h1Active.set(socket, (conns.h1Active.get(socket) ?? 0) + 1);
    if (conns.closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (conns.h1Active.get(socket) ?? 1) - 1;
      if (left > 0) conns.h1Active.set(socket, left);
      else conns.h1Active.delete(socket);
      if (conns.closing && left <= 0) socket.end();
    });
    handler(req, res);
  });
}

/** The HTTP/2 side: tracks sessions and keeps them honest with keepalive pings. */
function createHttp2Server(options: HttpListenerOptions, conns: Connections): http2.Http2Server {
  const { log } = options;
  const h2 = http2.createServer({}, options.handler);
  h2.on("session", (session: http2.ServerHttp2Session) => {
    conns.sessions.add(session);
    session.once("close", () => conns.sessions.delete(session));
    session.on("error", (err) => log.debug({ err: err.message }, "http/2 session error"));
    keepSessionAlive(session, options.keepalive, () => {
      log.warn("http/2 peer did not answer a keepalive ping; closing its session");
      session.destroy();
    });
    if (conns.closing) session.close();
  });
  return h2;
}

/** GOAWAY to every HTTP/2 session (each closes once its streams end); idle and undecided connections go now. */
function closeIdle(conns: Connections): void {
  for (const session of conns.sessions) session.close();
  for (const [raw, state] of conns.sockets) {
    if (state === "undecided") raw.destroy();
    else if (state.protocol === "http/1.1" && !conns.h1Active.has(state.socket)) state.socket.destroy();
  }
}

/** Ends every connection at once, TLS sockets with the connections under them. */
function destroyAll(conns: Connections): void {
  for (const session of conns.sessions) session.destroy();
  for (const [raw, state] of conns.sockets) {
    if (state !== "undecided") state.socket.destroy();
    raw.destroy();
  }
}
