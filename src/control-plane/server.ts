import type { Registry } from "prom-client";
import type { Logger } from "../shared/logger.js";
import { type ControlPlaneTokens, createAuthInterceptor, createTokenCheck } from "./transport/auth.js";
import { createDecodeFailureInterceptor } from "./transport/decode-failures.js";
import { createHealthService, type Readiness } from "./transport/health.js";
import { createHttpEndpoints } from "./transport/http-endpoints.js";
import { createPlaintextListener } from "./transport/plaintext-listener.js";
import { createReflectionService } from "./transport/reflection.js";
import {
  createRoutes,
  HEALTH_CHECKED_SERVICES,
  PROCEDURES,
  SERVED_SERVICES,
  SERVICE_AUDIENCES,
  type ServiceImplementations,
} from "./transport/routes.js";
import { createRpcAdapter } from "./transport/rpc-adapter.js";
import { createRpcTelemetry } from "./transport/rpc-telemetry.js";
import { createStreamShutdownInterceptor } from "./transport/stream-shutdown.js";
import { createTokenGate } from "./transport/token-gate.js";

export type { ControlPlaneTokens } from "./transport/auth.js";
export type { Readiness } from "./transport/health.js";
export type { ServiceImplementations } from "./transport/routes.js";

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
  /** How long a new connection may stay silent before it is dropped. */
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
  tuning?: Partial<TransportTuning>;
}

/** A built control-plane server: not listening until {@link ControlPlaneServer.listen}. */
export interface ControlPlaneServer {
  /** Binds the port; with port 0 the result carries the port the OS chose. */
  listen(): Promise<{ url: string; port: number }>;
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
 * gRPC and gRPC-Web on one plaintext port (h2c and HTTP/1.1), plus GET /metrics.
 */
export function build(deps: ControlPlaneDeps): ControlPlaneServer {
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const log = deps.log.child({ component: "control-plane-transport" });
  if (deps.tokens.admin === "") log.warn("no admin token configured; every AdminService call is refused");
  if (deps.tokens.dataPlane === "")
    log.warn("no data-plane token configured; every GatewayService call is refused");
  const shutdown = new AbortController();
  const checkToken = createTokenCheck(deps.tokens);
  const telemetry = createRpcTelemetry({ log, registry: deps.registry });
  const rpc = createRpcAdapter({
    routes: createRoutes({
      ...(deps.admin === undefined ? {} : { admin: deps.admin }),
      ...(deps.gateway === undefined ? {} : { gateway: deps.gateway }),
      health: createHealthService({
        readiness: deps.readiness,
        services: HEALTH_CHECKED_SERVICES,
        watchIntervalMs: tuning.healthWatchIntervalMs,
        shutdownSignal: shutdown.signal,
      }),
      reflection: createReflectionService(SERVED_SERVICES),
    }),
    // Outermost first: telemetry sees auth failures, shutdown endings and undecodable messages too.
    interceptors: [
      telemetry.interceptor,
      createAuthInterceptor({ check: checkToken, audiences: SERVICE_AUDIENCES }),
      createStreamShutdownInterceptor(shutdown.signal),
      createDecodeFailureInterceptor(),
    ],
    fallback: createHttpEndpoints(deps.registry, log),
    log,
  });
  // The token is checked from the headers before the router reads a body.
  const handler = createTokenGate(rpc, {
    check: checkToken,
    audiences: SERVICE_AUDIENCES,
    procedures: PROCEDURES,
    onRefused: telemetry.recordRefused,
  });
  const listener = createPlaintextListener({
    handler,
    log,
    keepalive: { intervalMs: tuning.keepaliveIntervalMs, timeoutMs: tuning.keepaliveTimeoutMs },
    prefaceTimeoutMs: tuning.prefaceTimeoutMs,
  });
  let closed: Promise<void> | undefined;
  return {
    async listen() {
      const port = await listener.listen(deps.listen.host, deps.listen.port);
      const host = deps.listen.host.includes(":") ? `[${deps.listen.host}]` : deps.listen.host;
      const url = `http://${host}:${port}`;
      log.info({ url }, "control plane listening");
      return { url, port };
    },
    close() {
      closed ??= (async () => {
        shutdown.abort();
        await listener.close(Math.min(tuning.shutdownGraceMs, MAX_SHUTDOWN_GRACE_MS));
        log.info("control plane closed");
      })();
      return closed;
    },
  };
}
