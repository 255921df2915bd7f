import type { Tracer } from "@opentelemetry/api";
import { statusLabel } from "../../shared/telemetry/prometheus.js";
import type { DataPlaneMetrics } from "../metrics.js";
import type { RequestContext } from "../pipeline/request-context.js";
import { type AccessLog, clientRequestIdOf } from "./access-log.js";
import type { ModelLabels } from "./model-label.js";
import { startRequestTrace } from "./request-trace.js";

/** What watches every proxied request: metrics, the access log, and traces when tracing is on. */
export interface RequestObserverDeps {
  metrics: DataPlaneMetrics;
  models: ModelLabels;
  accessLog: AccessLog;
  /** Null when OTel is not configured: requests then get the inert trace. */
  tracer: Tracer | null;
}

const ROUTES = { responses: "/v1/responses", chat: "/v1/chat/completions" } as const;

/**
 * The two points where the proxy route hands a request to observability: {@link RequestObserver.started} before the
 * pipeline runs, {@link RequestObserver.finished} after it answered.
 */
export class RequestObserver {
  readonly #deps: RequestObserverDeps;
  readonly #inFlight: { responses: { inc(): void; dec(): void }; chat: { inc(): void; dec(): void } };

  constructor(deps: RequestObserverDeps) {
    this.#deps = deps;
    this.#inFlight = {
      responses: deps.metrics.inFlight.labels("responses"),
      chat: deps.metrics.inFlight.labels("chat"),
    };
  }

  /** Adopts the client's request id (echoed as `x-client-request-id`) and opens the request's trace. */
  started(ctx: RequestContext): void {
    this.#inFlight[ctx.api].inc();
    const clientId = clientRequestIdOf(ctx.req.headers["x-request-id"]);
    if (clientId !== "") {
      ctx.clientRequestId = clientId;
      ctx.res.setHeader("x-client-request-id", clientId);
    }
    const tracer = this.#deps.tracer;
    if (tracer !== null)
      ctx.trace = startRequestTrace(tracer, ROUTES[ctx.api], ctx.req.headers, ctx.requestId);
  }

  /** Counts the request, writes its access-log line and ends its trace. */
  finished(ctx: RequestContext): void {
    const { metrics, models } = this.#deps;
    this.#inFlight[ctx.api].dec();
    const status = ctx.res.statusCode;
    metrics.requests.get(ctx.api, statusLabel(status), models.label(ctx.model)).inc();
    this.#deps.accessLog.write(ctx);
    if (ctx.trace.active) {
      const usage = ctx.settled?.usage;
      ctx.trace.finish({
        status,
        model: ctx.model,
        upstreamModel: ctx.lease?.target?.upstreamModel ?? "",
        inputTokens: usage?.input ?? 0,
        outputTokens: usage?.output ?? 0,
        cachedInputTokens: usage?.cachedInput ?? 0,
        responseId: ctx.settled?.responseId ?? "",
      });
    }
  }
}
