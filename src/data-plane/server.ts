import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { ErrorCode, SwitchyardError } from "../shared/errors.js";
import { newRequestId } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import { clientServerOptions, guardClientConnections } from "./client-connections.js";
import type { DataPlaneMetrics } from "./metrics.js";
import type { RequestObserver } from "./observability/request-observer.js";
import { ExchangeError, sendFailure } from "./pipeline/client-response.js";
import type { ServeDeps } from "./pipeline/serve-request.js";
import { healthz, metrics, readyz } from "./routes/health.js";
import { modelsRoute } from "./routes/models.js";
import { proxyRoute } from "./routes/proxy.js";

/** What the data plane's HTTP server needs; built once in the composition root. */
export interface DataPlaneServerDeps extends ServeDeps {
  log: Logger;
  metrics: DataPlaneMetrics;
  /** Metrics, access log and traces of each proxied request. */
  observer: RequestObserver;
  /** False when /metrics has a listener of its own (SWITCHYARD_DATA_PLANE_METRICS_LISTEN). */
  metricsOnPublicPort: boolean;
  /** Ready: connected to the control plane with a snapshot, and not draining. */
  ready: () => boolean;
  /** Longest time a client may take to send a request's headers. */
  clientHeadersTimeoutMs: number;
}

/** A built data-plane server. */
export interface DataPlaneServer {
  listen(host: string, port: number): Promise<{ url: string; port: number }>;
  /** Requests being served right now. */
  inFlight(): number;
  /** Stops accepting connections; idle keep-alive connections are closed, busy ones finish their request. */
  stopAccepting(): void;
  /** Closes connections that became idle (call while draining). */
  closeIdle(): void;
  /** Destroys every connection left. */
  destroy(): void;
}

/**
 * The data plane's Express app and HTTP server: the OpenAI-compatible routes, health, readiness and metrics. No
 * body parser anywhere: proxied bodies are read by the pipeline with its size limit.
 */
export function build(deps: DataPlaneServerDeps): DataPlaneServer {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  let inFlight = 0;
  // One middleware, not two: every layer costs each request a pass of the router.
  app.use((req: Request, res: Response, next: NextFunction) => {
    inFlight++;
    res.once("close", () => inFlight--);
    // One id per request: proxied routes adopt it as their RequestContext's id.
    res.setHeader("x-request-id", newRequestId());
    // RFC 9112 §3.2, which node enforces with an empty 400 unless the app does it (clientServerOptions).
    if (req.httpVersion === "1.1" && req.headers.host === undefined) {
      sendFailure(res, "responses", new ExchangeError("missing_host"), "");
      return;
    }
    next();
  });
  const responses = proxyRoute("responses", deps);
  const chat = proxyRoute("chat", deps);
  for (const path of ["/v1/responses", "/responses", "/openai/v1/responses"]) app.post(path, responses);
  for (const path of ["/v1/chat/completions", "/chat/completions"]) app.post(path, chat);
  const models = modelsRoute(deps);
  for (const path of ["/v1/models", "/models"]) app.get(path, models);
  app.get("/healthz", healthz);
  app.get("/readyz", readyz(deps.ready));
  if (deps.metricsOnPublicPort) app.get("/metrics", metrics(deps.metrics.registry));
  app.use((req: Request, res: Response) => {
    const err = new SwitchyardError(ErrorCode.ROUTE_NOT_FOUND, {
      message: `Unknown request URL: ${req.method} ${req.path}`,
    });
    sendFailure(res, "responses", err, "");
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (isClientFault(err)) {
      sendFailure(res, "responses", new SwitchyardError(ErrorCode.INVALID_REQUEST), "");
      return;
    }
    deps.log.error({ err }, "unhandled request error");
    sendFailure(res, "responses", err, "");
  });

  const timeouts = { headersMs: deps.clientHeadersTimeoutMs, bodyIdleMs: deps.clientBodyTimeoutMs };
  const server: Server = createServer(clientServerOptions(timeouts), app);
  guardClientConnections(server, timeouts, deps.log);
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return {
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
      const actual = (server.address() as AddressInfo).port;
      const shown = host.includes(":") ? `[${host}]` : host;
      return { url: `http://${shown}:${actual}`, port: actual };
    },
    inFlight: () => inFlight,
    stopAccepting() {
      server.close();
      server.closeIdleConnections();
    },
    closeIdle() {
      server.closeIdleConnections();
    },
    destroy() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** An error Express or its helpers raise for a request they cannot take (http-errors' 4xx `status`), not a fault. */
function isClientFault(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 500;
}
