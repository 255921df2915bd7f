import type { IncomingHttpHeaders } from "node:http";
import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { Lease } from "../../gen/switchyard/v1/gateway_pb.js";
import { contextFromTraceparent, endWithError, traceparentOf } from "../../shared/telemetry/tracing.js";

/** One stage's span: its `traceparent` (for the lease channel or the upstream) and how it ends. */
export interface StageSpan {
  /** The W3C `traceparent` naming this span; empty when not tracing. */
  readonly traceparent: string;
  /** Ends the span; `status` is the upstream's HTTP status where there is one (0: none). */
  end(status?: number): void;
  fail(err: unknown): void;
}

/** What the request span records when the request is over (GenAI semantic-convention attributes). */
export interface TracedOutcome {
  status: number;
  model: string;
  upstreamModel: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  responseId: string;
}

/**
 * The spans of one client request: the request span (a child of the client's `traceparent`, if it sent one) with
 * admit, each upstream attempt, the relay and settle as children. {@link NO_TRACE} stands in when tracing is off,
 * so the pipeline calls the same few methods either way and pays nothing for them.
 */
export interface RequestTrace {
  readonly active: boolean;
  /** `traceparent` of the request span (for operations that belong to no stage, such as a reroute). */
  readonly traceparent: string;
  /** The trace id, for the access log; empty when not tracing. */
  readonly traceId: string;
  stage(name: "admit" | "relay" | "settle"): StageSpan;
  /** An upstream attempt: a CLIENT span named after the GenAI operation (`chat <upstream model>`). */
  attempt(lease: Lease): StageSpan;
  finish(outcome: TracedOutcome): void;
}

const NO_SPAN: StageSpan = { traceparent: "", end() {}, fail() {} };

/** The trace of an untraced request: every method a no-op, every span the same inert object. */
export const NO_TRACE: RequestTrace = {
  active: false,
  traceparent: "",
  traceId: "",
  stage: () => NO_SPAN,
  attempt: () => NO_SPAN,
  finish() {},
};

/** Starts a request's trace, parented on the client's `traceparent` when it sent a valid one. */
export function startRequestTrace(
  tracer: Tracer,
  route: string,
  headers: IncomingHttpHeaders,
  requestId: string,
): RequestTrace {
  const parent = contextFromTraceparent(single(headers.traceparent), single(headers.tracestate));
  const span = tracer.startSpan(
    `POST ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": "POST",
        "http.route": route,
        "gen_ai.operation.name": "chat",
        "switchyard.request_id": requestId,
      },
    },
    parent,
  );
  return new ActiveRequestTrace(tracer, span, parent);
}

class ActiveRequestTrace implements RequestTrace {
  readonly active = true;
  readonly traceparent: string;
  readonly traceId: string;
  readonly #tracer: Tracer;
  readonly #span: Span;
  readonly #context: Context;

  constructor(tracer: Tracer, span: Span, parent: Context) {
    this.#tracer = tracer;
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    this.traceparent = traceparentOf(span);
    this.traceId = span.spanContext().traceId;
  }

  stage(name: "admit" | "relay" | "settle"): StageSpan {
    return new ActiveStageSpan(this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL }, this.#context));
  }

  attempt(lease: Lease): StageSpan {
    const target = lease.target;
    const span = this.#tracer.startSpan(
      `chat ${target?.upstreamModel ?? ""}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.system": "openai",
          "gen_ai.request.model": target?.upstreamModel ?? "",
          "switchyard.account_id": target?.accountId ?? "",
          "switchyard.attempt": lease.attempt,
          "switchyard.lease_id": lease.leaseId,
        },
      },
      this.#context,
    );
    return new ActiveStageSpan(span);
  }

  finish(outcome: TracedOutcome): void {
    const span = this.#span;
    span.setAttribute("http.response.status_code", outcome.status);
    span.setAttribute("gen_ai.request.model", outcome.model);
    if (outcome.upstreamModel !== "") span.setAttribute("gen_ai.response.model", outcome.upstreamModel);
    if (outcome.responseId !== "") span.setAttribute("gen_ai.response.id", outcome.responseId);
    span.setAttribute("gen_ai.usage.input_tokens", outcome.inputTokens);
    span.setAttribute("gen_ai.usage.output_tokens", outcome.outputTokens);
    span.setAttribute("gen_ai.usage.cache_read.input_tokens", outcome.cachedInputTokens);
    if (outcome.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

class ActiveStageSpan implements StageSpan {
  readonly traceparent: string;
  readonly #span: Span;

  constructor(span: Span) {
    this.#span = span;
    this.traceparent = traceparentOf(span);
  }

  end(status = 0): void {
    if (status > 0) {
      this.#span.setAttribute("http.response.status_code", status);
      if (status >= 400) this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.#span.end();
  }

  fail(err: unknown): void {
    endWithError(this.#span, err);
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
