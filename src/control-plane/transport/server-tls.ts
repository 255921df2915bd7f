import type * as net from "node:net";
import * as tls from "node:tls";
import type { ControlPlaneServerTls } from "../../shared/config.js";
import type { Logger } from "../../shared/logger.js";
import { checkKeyPair, readPemFile } from "../../shared/tls-files.js";
import type { ConnectionHandoff } from "./http-listener.js";

/** What the control plane's port serves TLS with: PEM bytes read at start. */
export interface ServerTlsCredentials {
  /** Certificate chain, leaf first. */
  cert: Buffer;
  key: Buffer;
  /** CA bundle client certificates must chain to; null: no client certificate is asked for. */
  clientCa: Buffer | null;
}

/**
 * Reads the server's certificate, key and client CA from the files the settings name, once at start. A missing,
 * unreadable or mismatched file throws a ConfigError naming the variable, so the process exits with one line.
 */
export function loadServerTls(settings: ControlPlaneServerTls): ServerTlsCredentials {
  const cert = readPemFile(settings.certFile, "SWITCHYARD_TLS_CERT_FILE", "certificate");
  const key = readPemFile(settings.keyFile, "SWITCHYARD_TLS_KEY_FILE", "private key");
  checkKeyPair(cert, key, "SWITCHYARD_TLS_KEY_FILE", "SWITCHYARD_TLS_CERT_FILE");
  const clientCa =
    settings.clientCaFile === ""
      ? null
      : readPemFile(settings.clientCaFile, "SWITCHYARD_TLS_CLIENT_CA_FILE", "certificate");
  return { cert, key, clientCa };
}

/**
 * The TLS side of a listener: runs each accepted connection's handshake on a `tls.Server` that never listens
 * itself (node verifies client certificates there), then reports the TLS socket and the protocol ALPN settled on:
 * "h2" for HTTP/2, anything else (including no ALPN) for HTTP/1.1. With a client CA, a connection without a
 * certificate chaining to it fails the handshake; tokens are still checked on every call after it. A handshake
 * that has not finished within `handshakeTimeoutMs` is dropped.
 */
export function createTlsHandoff(
  credentials: ServerTlsCredentials,
  handshakeTimeoutMs: number,
  log: Logger,
): ConnectionHandoff {
  const mutual = credentials.clientCa !== null;
  const server = new tls.Server({
    cert: credentials.cert,
    key: credentials.key,
    ...(mutual ? { ca: credentials.clientCa ?? undefined } : {}),
    requestCert: mutual,
    rejectUnauthorized: mutual,
    ALPNProtocols: ["h2", "http/1.1"],
    handshakeTimeout: handshakeTimeoutMs,
  });
  // node hands over the TLS socket without the connection under it; a TCP connection's endpoints name it uniquely
  // while it is open, and both sockets report the same ones.
  const waiting = new Map<string, (socket: tls.TLSSocket) => void>();
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    const key = endpointsOf(socket);
    const decided = waiting.get(key);
    waiting.delete(key);
    if (decided === undefined) socket.destroy();
    else decided(socket);
  });
  server.on("tlsClientError", (err: Error) => log.debug({ err: err.message }, "tls handshake failed"));
  return (raw, decided) => {
    const key = endpointsOf(raw);
    const onSecure = (socket: tls.TLSSocket): void =>
      decided(socket, socket.alpnProtocol === "h2" ? "h2" : "http/1.1");
    waiting.set(key, onSecure);
    raw.once("close", () => {
      if (waiting.get(key) === onSecure) waiting.delete(key);
    });
    server.emit("connection", raw);
  };
}

/** The TCP connection's two endpoints, the same on a socket and on the TLS socket around it. */
function endpointsOf(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}
