import type { Registry } from "prom-client";
import type { Logger } from "../shared/logger.js";
import { type ControlPlaneTokens, createAuthInterceptor, createTokenCheck } from "./transport/auth.js";
import { createDecodeFailureInterceptor } from "./transport/decode-failures.js";
import { createHealthService, type Readiness } from "./transport/health.js";
import { createHttpEndpoints } from "./transport/http-endpoints.js";
import { createHttpListener, type HttpListener } from "./transport/http-listener.js";
import type { NodeHandler } from "./transport/preface-sniffer.js";
import { createReflectionService } from "./transport/reflection.js";
import {
  createHealthRoutes,
  createRoutes,
  HEALTH_CHECKED_SERVICES,
  PROCEDURES,
  SERVED_SERVICES,
  SERVICE_AUDIENCES,
  type ServiceImplementations,
} from "./transport/routes.js";
import { createRpcAdapter } from "./transport/rpc-adapter.js";
import { createRpcTelemetry } from "./transport/rpc-telemetry.js";
import type { ServerTlsCredentials } from "./transport/server-tls.js";
import { createStreamShutdownInterceptor } from "./transport/stream-shutdown.js";
import { createTokenGate } from "./transport/token-gate.js";

export type { ControlPlaneTokens } from "./transport/auth.js";
export type { Readiness } from "./transport/health.js";
export type { ServiceImplementations } from "./transport/routes.js";
export { loadServerTls, type ServerTlsCredentials } from "./transport/server-tls.js";

/** Transport timings; the defaults suit production, tests shorten them. */
export interface TransportTuning {
  /** Ping an HTTP/2 session whose peer has been silent this long (DESIGN.md §3a: ~1 s). */
  keepaliveIntervalMs: number;
  /** Destroy a session whose ping is unanswered this long (~2 s). */
  keepaliveTimeoutMs: number;
  /** How long close() lets in-flight calls finish before destroying connections; at most 9 s, so close() ends
   * within 10 s whatever a client or an implementation does. */
  shutdownGraceMs: number;
  /** How often a health Watch re-evaluates readiness. */
  healthWatchIntervalMs: number;
  /** How long a new connection may stay silent (or take over its TLS handshake) before it is dropped. */
  prefaceTimeoutMs: number;
}

/** Everything the control plane's transport needs; built once in the composition root. */
export interface ControlPlaneDeps extends ServiceImplementations {
  tokens: ControlPlaneTokens;
  /** Decides health SERVING / NOT_SERVING. */
  readiness: Readiness;
  /** Served at GET /metrics; RPC metrics are registered on it. */
  registry: Registry;
  log: Logger;
  listen: { host: string; port: number };
  /** TLS of the main port (loadServerTls); absent or null: plaintext h2c and HTTP/1.1. */
  tls?: ServerTlsCredentials | null;
  /** A second, plaintext port serving only grpc.health.v1 and GET /metrics, for probes that cannot do TLS. */
  healthListen?: { host: string; port: number } | null;
  tuning?: Partial<TransportTuning>;
  /** The built admin web UI, served on the main port under /ui/; absent or null: not served. */
  uiDir?: string | null;
}

/** Where a listening server can be reached. */
export interface BoundAddress {
  url: string;
  port: number;
}

/** A built control-plane server: not listening until {@link ControlPlaneServer.listen}. */
export interface ControlPlaneServer {
  /** Binds the ports; with port 0 the result carries the ports the OS chose. `health` is null without one. */
  listen(): Promise<BoundAddress & { health: BoundAddress | null }>;
  /**
   * Graceful shutdown: stops accepting, ends streaming calls (UNAVAILABLE), lets unary calls finish, closes idle
   * connections, and destroys what is left after the grace period. Idempotent.
   */
  close(): Promise<void>;
}

const MAX_SHUTDOWN_GRACE_MS = 9_000;

const DEFAULT_TUNING: TransportTuning = {
  keepaliveIntervalMs: 1_000,
  keepaliveTimeoutMs: 2_000,
  shutdownGraceMs: 5_000,
  healthWatchIntervalMs: 1_000,
  prefaceTimeoutMs: 10_000,
};

/**
 * The control plane's server: AdminService, GatewayService, grpc.health.v1 and grpc.reflection.v1 over Connect,
 * gRPC and gRPC-Web on one port (h2c and HTTP/1.1, or TLS with ALPN h2 and http/1.1), plus GET /metrics; and,
 * when asked for, a plaintext health port for kubelet probes.
 */
export function build(deps: ControlPlaneDeps): ControlPlaneServer {
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const log = deps.log.child({ component: "control-plane-transport" });
  if (deps.tokens.admin === "") log.warn("no admin token configured; every AdminService call is refused");
  if (deps.tokens.dataPlane === "")
    log.warn("no data-plane token configured; every GatewayService call is refused");
  const shutdown = new AbortController();
  const handlers = createHandlers(deps, tuning, log, shutdown.signal);
  const listenerOf = (handler: NodeHandler, tls: ServerTlsCredentials | null): HttpListener =>
    createHttpListener({
      handler,
      log,
      keepalive: { intervalMs: tuning.keepaliveIntervalMs, timeoutMs: tuning.keepaliveTimeoutMs },
      prefaceTimeoutMs: tuning.prefaceTimeoutMs,
      tls,
    });
  const tls = deps.tls ?? null;
  const main = listenerOf(handlers.main, tls);
  const health = deps.healthListen ? listenerOf(handlers.health, null) : null;
  const closeAll = () => {
    const grace = Math.min(tuning.shutdownGraceMs, MAX_SHUTDOWN_GRACE_MS);
    return Promise.all([main.close(grace), health?.close(grace)]);
  };
  let closed: Promise<void> | undefined;
  return {
    async listen() {
      try {
        const bound = await bind(main, deps.listen, tls !== null);
        const probes = health && deps.healthListen ? await bind(health, deps.healthListen, false) : null;
        log.info({ url: bound.url, tls: tls !== null, healthUrl: probes?.url }, "control plane listening");
        return { ...bound, health: probes };
      } catch (err) {
        await closeAll();
        throw err;
      }
    },
    close() {
      closed ??= (async () => {
        shutdown.abort();
        await closeAll();
        log.info("control plane closed");
      })();
      return closed;
    },
  };
}

/** The main port's handler (every service, token-gated) and the health port's (grpc.health.v1 and /metrics). */
function createHandlers(
  deps: ControlPlaneDeps,
  tuning: TransportTuning,
  log: Logger,
  shutdownSignal: AbortSignal,
): { main: NodeHandler; health: NodeHandler } {
  const checkToken = createTokenCheck(deps.tokens);
  const telemetry = createRpcTelemetry({ log, registry: deps.registry });
  const health = createHealthService({
    readiness: deps.readiness,
    services: HEALTH_CHECKED_SERVICES,
    watchIntervalMs: tuning.healthWatchIntervalMs,
    shutdownSignal,
  });
  const fallback = createHttpEndpoints(deps.registry, log);
  const mainFallback = createHttpEndpoints(deps.registry, log, deps.uiDir ?? null);
  const rpc = createRpcAdapter({
    routes: createRoutes({
      ...(deps.admin === undefined ? {} : { admin: deps.admin }),
      ...(deps.gateway === undefined ? {} : { gateway: deps.gateway }),
      health,
      reflection: createReflectionService(SERVED_SERVICES),
    }),
    // Outermost first: telemetry sees auth failures, shutdown endings and undecodable messages too.
    interceptors: [
      telemetry.interceptor,
      createAuthInterceptor({ check: checkToken, audiences: SERVICE_AUDIENCES }),
      createStreamShutdownInterceptor(shutdownSignal),
      createDecodeFailureInterceptor(),
    ],
    fallback: mainFallback,
    log,
  });
  // The token is checked from the headers before the router reads a body.
  const main = createTokenGate(rpc, {
    check: checkToken,
    audiences: SERVICE_AUDIENCES,
    procedures: PROCEDURES,
    onRefused: telemetry.recordRefused,
  });
  const healthOnly = createRpcAdapter({
    routes: createHealthRoutes(health),
    interceptors: [
      telemetry.interceptor,
      createStreamShutdownInterceptor(shutdownSignal),
      createDecodeFailureInterceptor(),
    ],
    fallback,
    log,
  });
  return { main, health: healthOnly };
}

/** Binds a listener and names the address it serves. */
async function bind(
  listener: HttpListener,
  at: { host: string; port: number },
  tls: boolean,
): Promise<BoundAddress> {
  const port = await listener.listen(at.host, at.port);
  const host = at.host.includes(":") ? `[${at.host}]` : at.host;
  return { url: `${tls ? "https" : "http"}://${host}:${port}`, port };
}
