import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import type { Tracer } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { createDataPlaneMetrics } from "../src/data-plane/metrics.js";
import { AccessLog } from "../src/data-plane/observability/access-log.js";
import { ModelLabels } from "../src/data-plane/observability/model-label.js";
import { RequestObserver } from "../src/data-plane/observability/request-observer.js";
import { RequestContext } from "../src/data-plane/pipeline/request-context.js";
import { LeaseSchema, SnapshotSchema } from "../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../src/shared/logger.js";
import { startTracing } from "../src/shared/telemetry/otel-sdk.js";

/**
 * What observability adds to one proxied request on the data plane, in-process (no sockets): the observer's start
 * and finish (request counter, access-log line, request span) and the pipeline's hooks (admit, attempt, relay and
 * settle spans; upstream-response and token counters), with tracing off and on, the access log off and on (written
 * to /dev/null as pino writes it in production). Tracing on exports to an exporter that drops spans, so only the
 * SDK's own work counts.
 */
const REQUESTS = Number(process.env.BENCH_OBSERVED_REQUESTS ?? 100_000);

const snapshot = create(SnapshotSchema, {
  version: 1,
  revision: 1n,
  groupModels: [{ groupId: "g", models: ["gpt-5"] }],
});
const lease = create(LeaseSchema, {
  leaseId: "lease-1",
  principal: { userId: "u", keyId: "k", groupId: "g" },
  target: { accountId: "a", upstreamModel: "gpt-5" },
  attempt: 1,
});
const usage = { input: 1000, cachedInput: 250, output: 50, reasoning: 0, outOfRange: false };

function observer(accessLog: "info" | "off", tracer: Tracer | null) {
  const destination = pino.destination({ dest: "/dev/null", sync: false });
  const log = createLogger({ level: "info", destination });
  const metrics = createDataPlaneMetrics({
    usage: () => ({ depth: 0, dropped: 0 }),
    leasesHeld: () => new Map(),
  });
  const watcher = new RequestObserver({
    metrics,
    models: new ModelLabels(() => snapshot),
    accessLog: new AccessLog(log, { level: accessLog, sampleRate: 1 }),
    tracer,
  });
  return { watcher, metrics, log };
}

/**
 * µs per request of `REQUESTS` requests through the observer and the pipeline's hooks. The loop yields every 50
 * requests, as a server does between requests, so the logger's asynchronous writes and the span processor run.
 */
async function measure(accessLog: "info" | "off", tracer: Tracer | null, hooks: boolean): Promise<number> {
  const { watcher, metrics, log } = observer(accessLog, tracer);
  const req = new IncomingMessage(new Socket());
  req.headers = { "x-request-id": "client-1" };
  let elapsed = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const res = new ServerResponse(req);
    const ctx = new RequestContext("responses", req, res, log, {
      trustedProxies: null,
      header: "x-forwarded-for",
    });
    ctx.model = "gpt-5";
    ctx.lease = lease;
    const started = performance.now();
    if (hooks) {
      watcher.started(ctx);
      ctx.trace.stage("admit").end();
      const attempt = ctx.trace.attempt(lease);
      attempt.end(200);
      metrics.upstreamResponses.get("g", "a", "200").inc();
      ctx.trace.stage("relay").end();
      ctx.trace.stage("settle").end();
      metrics.countTokens("g", "a", usage);
      watcher.finished(ctx);
    }
    elapsed += performance.now() - started;
    res.emit("close");
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
  }
  return (elapsed * 1000) / REQUESTS;
}

class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

const rows: Array<[string, number]> = [];
// Warm up, then measure; tracing last (it registers the SDK for the process).
await measure("off", null, true);
rows.push(["nothing (the pipeline without observability)", await measure("off", null, false)]);
rows.push(["metrics, tracing off, access log off", await measure("off", null, true)]);
rows.push(["metrics + access log (info), tracing off", await measure("info", null, true)]);
const tracing = startTracing({
  serviceName: "bench",
  version: "bench",
  log: createLogger({ level: "silent" }),
  exporter: new DroppingExporter(),
});
await measure("info", tracing.tracer, true);
rows.push(["metrics + access log + tracing (6 spans)", await measure("info", tracing.tracer, true)]);
await tracing.shutdown();

const base = rows[0]?.[1] ?? 0;
const lines = [
  `### Data plane: observability per request, in-process (${REQUESTS} requests)`,
  "",
  "| what runs | µs per request | added µs |",
  "|---|---|---|",
  ...rows.map(([what, us]) => `| ${what} | ${us.toFixed(2)} | ${(us - base).toFixed(2)} |`),
  "",
  "The first row times an empty block (the loop's own cost); tracing off, every span hook is a no-op on one shared",
  "object.",
  "",
];
process.stdout.write(`${lines.join("\n")}\n`);
