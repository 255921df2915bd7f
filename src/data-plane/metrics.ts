import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The data plane's Prometheus metrics (DESIGN.md: requests, latency, first token, overhead, failovers, waits). */
export interface DataPlaneMetrics {
  registry: Registry;
  requests: Counter<"route" | "status" | "model">;
  upstreamLatency: Histogram<"route">;
  timeToFirstToken: Histogram<"route">;
  overhead: Histogram<"route">;
  failovers: Counter<"reason">;
  leaseWait: Histogram<never>;
  inFlight: Gauge<"route">;
  usageQueueDepth: Gauge<never>;
  usageDropped: Gauge<never>;
  usageOutOfRange: Counter<never>;
}

const SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Builds the metrics on a fresh registry; `usage` supplies the reporter's queue figures at scrape time. */
export function createDataPlaneMetrics(usage: () => { depth: number; dropped: number }): DataPlaneMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: "switchyard_requests_total",
      help: "Client requests by route, final status and requested model.",
      labelNames: ["route", "status", "model"],
      registers,
    }),
    upstreamLatency: new Histogram({
      name: "switchyard_upstream_latency_seconds",
      help: "Time from sending upstream to its response headers.",
      labelNames: ["route"],
      buckets: SECONDS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: "switchyard_time_to_first_token_seconds",
      help: "Time from the request's arrival to the first content token.",
      labelNames: ["route"],
      buckets: SECONDS,
      registers,
    }),
    overhead: new Histogram({
      name: "switchyard_gateway_overhead_seconds",
      help: "Time spent in the gateway before the upstream call (auth, parsing, admit), excluding lease waits.",
      labelNames: ["route"],
      buckets: SECONDS,
      registers,
    }),
    failovers: new Counter({
      name: "switchyard_failovers_total",
      help: "Account switches by reason.",
      labelNames: ["reason"],
      registers,
    }),
    leaseWait: new Histogram({
      name: "switchyard_lease_wait_seconds",
      help: "Time a request waited for its lease (user and account slots).",
      buckets: SECONDS,
      registers,
    }),
    inFlight: new Gauge({
      name: "switchyard_requests_in_flight",
      help: "Client requests being served.",
      labelNames: ["route"],
      registers,
    }),
    usageQueueDepth: new Gauge({
      name: "switchyard_usage_queue_depth",
      help: "Usage records waiting to be sent to the control plane.",
      registers,
      collect() {
        this.set(usage().depth);
      },
    }),
    usageDropped: new Gauge({
      name: "switchyard_usage_dropped",
      help: "Usage records dropped because the queue was full.",
      registers,
      collect() {
        this.set(usage().dropped);
      },
    }),
    usageOutOfRange: new Counter({
      name: "switchyard_usage_out_of_range_total",
      help: "Requests whose upstream reported token counts out of range (recorded as 0 and flagged).",
      registers,
    }),
  };
}
