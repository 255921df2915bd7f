import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { ErrorCode, SwitchyardError } from "../shared/errors.js";
import { newRequestId } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import type { DataPlaneMetrics } from "./metrics.js";
import { sendFailure } from "./pipeline/client-response.js";
import type { ServeDeps } from "./pipeline/serve-request.js";
import { healthz, metrics, readyz } from "./routes/health.js";
import { modelsRoute } from "./routes/models.js";
import { proxyRoute } from "./routes/proxy.js";

/** What the data plane's HTTP server needs; built once in the composition root. */
export interface DataPlaneServerDeps extends ServeDeps {
  log: Logger;
  metrics: DataPlaneMetrics;
  /** Ready: connected to the control plane with a snapshot, and not draining. */
  ready: () => boolean;
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
  app.use((_req: Request, res: Response, next: NextFunction) => {
    inFlight++;
    res.once("close", () => inFlight--);
    // One id per request: proxied routes adopt it as their RequestContext's id.
    res.setHeader("x-request-id", newRequestId());
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
  app.get("/metrics", metrics(deps.metrics.registry));
  app.use((req: Request, res: Response) => {
    const err = new SwitchyardError(ErrorCode.ROUTE_NOT_FOUND, {
      message: `Unknown request URL: ${req.method} ${req.path}`,
    });
    sendFailure(res, "responses", err, "");
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.log.error({ err }, "unhandled request error");
    sendFailure(res, "responses", err, "");
  });

  const server: Server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, app);
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
