import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Logger } from "../logger.js";
import type { Tracing } from "./tracing.js";

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` say otherwise. */
  serviceName: string;
  version: string;
  log: Logger;
  /** Tests pass an in-memory exporter (spans then leave at once); default: OTLP over HTTP, set by `OTEL_*`. */
  exporter?: SpanExporter;
}

/**
 * Starts the OTel SDK: a Node tracer provider (AsyncLocalStorage context, W3C trace-context propagation) exporting
 * over OTLP/HTTP; the exporter reads the rest of the standard variables (endpoint, headers, timeout, compression),
 * the batch processor `OTEL_BSP_*`, the sampler `OTEL_TRACES_SAMPLER`.
 */
export function startTracing(options: TracingOptions): Tracing {
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName,
        [ATTR_SERVICE_VERSION]: options.version,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  options.log.info({ serviceName: options.serviceName }, "tracing on (OTLP)");
  return {
    tracer: trace.getTracer("switchyard", options.version),
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        options.log.warn({ err }, "trace export did not finish at shutdown");
      }
    },
  };
}
