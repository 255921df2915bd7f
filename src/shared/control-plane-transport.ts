import type { ClientHttp2Stream, Http2Session, SecureClientSessionOptions } from "node:http2";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { ControlPlaneClientTls } from "./config.js";
import { type ControlPlaneEndpoint, endpointUrl } from "./control-plane-target.js";
import { checkKeyPair, readPemFile } from "./tls-files.js";

/** Options for {@link connectControlPlane}. */
export interface ControlPlaneConnectOptions {
  /** Sent as `authorization: Bearer …` on every call: the data-plane token or the admin token. */
  token: string;
  /** Used for TLS endpoints only (https:// URLs, or dns: names with the TLS setting); plaintext ones ignore it. */
  tls: ControlPlaneClientTls;
  /**
   * The name the replica's certificate must carry: `serverNameOf(target, endpoint, tls.servername)`, i.e. the
   * Service DNS name, never the pod IP the endpoint dials.
   */
  serverName: string;
  /** HTTP/2 PINGs, also on idle connections, so a dead replica is noticed within about interval + timeout. */
  ping?: { intervalMs: number; timeoutMs: number };
  /** Deadline of a call that sets none. */
  defaultTimeoutMs?: number;
  /** Run after the one that sets the token, outermost first. */
  interceptors?: Interceptor[];
}

/** A gRPC transport to one control-plane replica, over one HTTP/2 connection. */
export interface ControlPlaneConnection {
  transport: Transport;
  /** The replica, as a URL (for logs and messages). */
  url: string;
  /** Closes the connection and ends its calls. Safe in any state, even right after the peer broke it. */
  close(): void;
}

/**
 * A gRPC transport to one control-plane replica: HTTP/2 over plaintext (h2c) for http:// endpoints, over TLS for
 * TLS ones — verified against the CA file (else the system's CAs) and `serverName`, presenting the client
 * certificate when one is set (mTLS; the token is sent all the same). Certificate files are read once per process;
 * a bad one throws a ConfigError naming its variable. The connection opens on the first call and is unref'd
 * while idle, so it never keeps a process alive by itself. Callers with several replicas create one per endpoint.
 */
export function connectControlPlane(
  endpoint: ControlPlaneEndpoint,
  options: ControlPlaneConnectOptions,
): ControlPlaneConnection {
  const url = endpointUrl(endpoint);
  const sessionOptions = endpoint.tls ? clientTlsOptions(options.tls, options.serverName) : {};
  const ping = options.ping
    ? {
        pingIntervalMs: options.ping.intervalMs,
        pingTimeoutMs: options.ping.timeoutMs,
        pingIdleConnection: true,
      }
    : {};
  const sessionManager = new ControlPlaneSessionManager(url, ping, sessionOptions);
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${options.token}`);
    return next(req);
  };
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager,
    interceptors: [bearer, ...(options.interceptors ?? [])],
    // Between the planes compression costs more CPU and latency than the bytes it saves.
    acceptCompression: [],
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  });
  return { transport, url, close: () => sessionManager.abort() };
}

/**
 * node's TLS options for a control-plane connection. The identity check uses `serverName` whatever address is
 * dialled; SNI carries it too unless it is an IP address (RFC 6066 forbids IPs there).
 */
export function clientTlsOptions(tls: ControlPlaneClientTls, serverName: string): SecureClientSessionOptions {
  const ca = tls.caFile === "" ? undefined : readPemFile(tls.caFile, CA_VARIABLE, "certificate");
  const identity = tls.certFile === "" ? undefined : clientIdentity(tls);
  return {
    ...(ca ? { ca } : {}),
    ...(identity ?? {}),
    ...(isIP(serverName) === 0 ? { servername: serverName } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert),
  };
}

const CA_VARIABLE = "SWITCHYARD_CONTROL_PLANE_CA_FILE";
const CERT_VARIABLE = "SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE";
const KEY_VARIABLE = "SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE";

function clientIdentity(tls: ControlPlaneClientTls): { cert: Buffer; key: Buffer } {
  const cert = readPemFile(tls.certFile, CERT_VARIABLE, "certificate");
  const key = readPemFile(tls.keyFile, KEY_VARIABLE, "private key");
  checkKeyPair(cert, key, KEY_VARIABLE, CERT_VARIABLE);
  return { cert, key };
}

/**
 * connect-node's session manager, with one listener of its own on every session it hands out. A session the peer
 * broke (say, a server that does not speak HTTP/2) is destroyed a moment before it emits its 'error'; a close()
 * in that moment makes the manager drop its listeners, and the 'error' would end the process as unhandled. The
 * manager still sees every error while it listens; this one only keeps late ones from escaping.
 */
class ControlPlaneSessionManager extends Http2SessionManager {
  readonly #guarded = new WeakSet<Http2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.#guarded.has(session)) {
      this.#guarded.add(session);
      session.on("error", () => undefined);
    }
    return stream;
  }
}
