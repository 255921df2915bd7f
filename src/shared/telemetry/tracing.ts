import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/**
 * Helpers over the OTel API only (no SDK): the API is a no-op until an SDK registers, and the SDK is loaded by
 * `otel-sdk.ts` only when tracing is configured.
 */

/** Process-wide tracing, built once in a composition root when OTel is configured; absent (null) otherwise. */
export interface Tracing {
  tracer: Tracer;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Whether the standard OTel variables ask for traces: an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), `OTEL_SDK_DISABLED` is not true and `OTEL_TRACES_EXPORTER` is not `none`.
 * Off by default: without these, no SDK is loaded into the request path at all.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((e) => e.trim().toLowerCase());
  if (exporters.includes("none")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** The trace context a W3C `traceparent` (and `tracestate`) names; the root context for none or a malformed one. */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate) carrier.tracestate = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The `traceparent` value that makes `span` the parent of whatever receives it. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent ?? "";
}

/** Ends `span` as failed with `err`'s message (never its stack or any payload). */
export function endWithError(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/**
 * Wraps the async methods of `target` so each call is a child span of the active one (`<prefix> <method>`), with
 * `attributes` (e.g. `db.system.name`). A call with no active span — background sweeps — makes no span. Only used
 * when tracing is on; the wrapped object calls its methods on itself, so private fields keep working.
 */
export function tracedMethods<T extends object>(
  target: T,
  tracer: Tracer,
  prefix: string,
  attributes: Record<string, string>,
): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (trace.getSpan(context.active()) === undefined) return method.apply(obj, args);
        return tracer.startActiveSpan(`${prefix} ${prop}`, { kind: SpanKind.CLIENT, attributes }, (span) => {
          let result: unknown;
          try {
            result = method.apply(obj, args);
          } catch (err) {
            endWithError(span, err);
            throw err;
          }
          if (!(result instanceof Promise)) {
            span.end();
            return result;
          }
          return result.then(
            (v: unknown) => {
              span.end();
              return v;
            },
            (err: unknown) => {
              endWithError(span, err);
              throw err;
            },
          );
        });
      };
    },
  });
}
