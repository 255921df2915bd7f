import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  createMetricsRegistry,
  HandleCache,
  TalliedCounter,
  type Tally,
} from "../shared/telemetry/prometheus.js";

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** Token counts of one request, as the upstream reported them. */
export interface TokenCounts {
  input: number;
  cachedInput: number;
  output: number;
  reasoning: number;
}

/**
 * The data plane's Prometheus metrics (docs/operations.md lists them). Label values are bounded: `model` only names
 * models the snapshot knows (else `other`), `group` and `account` are ids the operator configured. Per-request
 * observations go through cached label handles.
 */
export interface DataPlaneMetrics {
  registry: Registry;
  /** `switchyard_requests_total{route,status,model}`. */
  requests: TalliedCounter;
  upstreamLatency: HandleCache<Observe>;
  timeToFirstToken: HandleCache<Observe>;
  overhead: HandleCache<Observe>;
  failovers: HandleCache<Inc>;
  leaseWait: Observe;
  inFlight: Gauge<"route">;
  /** `switchyard_upstream_responses_total{group,account,status}`: every attempt, `status` "none" without an answer. */
  upstreamResponses: TalliedCounter;
  usageOutOfRange: Inc;
  /** Counts one request's tokens for its group and account (and the prompt-cache hit ratio derived from them). */
  countTokens(group: string, account: string, tokens: TokenCounts): void;
}

/** What the metrics read at scrape time. */
export interface DataPlaneGauges {
  usage: () => { depth: number; dropped: number };
  /** Leases this data plane holds now, by group. */
  leasesHeld: () => ReadonlyMap<string, number>;
}

const SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Builds the metrics on a fresh registry (with the process and Node.js runtime metrics). */
export function createDataPlaneMetrics(gauges: DataPlaneGauges): DataPlaneMetrics {
  const registry = createMetricsRegistry();
  const registers = [registry];
  const histogram = (name: string, help: string) =>
    new Histogram({ name, help, labelNames: ["route"], buckets: SECONDS, registers });
  const requests = new TalliedCounter({
    name: "switchyard_requests_total",
    help: "Client requests by route, final status and requested model (`other` for a model the snapshot does not name).",
    labelNames: ["route", "status", "model"],
    registry,
  });
  const upstreamLatency = histogram(
    "switchyard_upstream_latency_seconds",
    "Time from sending upstream to its response headers.",
  );
  const timeToFirstToken = histogram(
    "switchyard_time_to_first_token_seconds",
    "Time from the request's arrival to the first content token.",
  );
  const overhead = histogram(
    "switchyard_gateway_overhead_seconds",
    "Time spent in the gateway before the upstream call (auth, parsing, admit), excluding lease waits.",
  );
  const failovers = new Counter({
    name: "switchyard_failovers_total",
    help: "Account switches by reason.",
    labelNames: ["reason"],
    registers,
  });
  const upstreamResponses = new TalliedCounter({
    name: "switchyard_upstream_responses_total",
    help: "Upstream attempts by group, account and upstream HTTP status (`none` when no answer came).",
    labelNames: ["group", "account", "status"],
    registry,
  });
  const tokens = tokenMetrics(registry);
  scrapeTimeGauges(registry, gauges);
  return {
    registry,
    requests,
    upstreamLatency: new HandleCache((route) => upstreamLatency.labels(route)),
    timeToFirstToken: new HandleCache((route) => timeToFirstToken.labels(route)),
    overhead: new HandleCache((route) => overhead.labels(route)),
    failovers: new HandleCache((reason) => failovers.labels(reason)),
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
    upstreamResponses,
    usageOutOfRange: new Counter({
      name: "switchyard_usage_out_of_range_total",
      help: "Requests whose upstream reported token counts out of range (recorded as 0 and flagged).",
      registers,
    }),
    countTokens: tokens.count,
  };
}

/** Token counters by group, account and kind, and the prompt-cache hit ratio computed from them at scrape time. */
function tokenMetrics(registry: Registry) {
  const counter = new TalliedCounter({
    name: "switchyard_tokens_total",
    help: "Tokens by group, account and kind (input, cached_input, output, reasoning; cached ⊆ input).",
    labelNames: ["group", "account", "kind"],
    registry,
  });
  interface Totals {
    group: string;
    account: string;
    input: number;
    cached: number;
    tallies: Record<keyof TokenCounts, Tally>;
  }
  const seen: Totals[] = [];
  const totals = new HandleCache<Totals>((group, account) => {
    const t: Totals = {
      group,
      account,
      input: 0,
      cached: 0,
      tallies: {
        input: counter.get(group, account, "input"),
        cachedInput: counter.get(group, account, "cached_input"),
        output: counter.get(group, account, "output"),
        reasoning: counter.get(group, account, "reasoning"),
      },
    };
    seen.push(t);
    return t;
  });
  new Gauge({
    name: "switchyard_prompt_cache_hit_ratio",
    help: "Cached input tokens / input tokens since start, by group and account (sticky routing's payoff).",
    labelNames: ["group", "account"],
    registers: [registry],
    collect() {
      for (const t of seen) {
        if (t.input > 0) this.set({ group: t.group, account: t.account }, t.cached / t.input);
      }
    },
  });
  return {
    count(group: string, account: string, tokens: TokenCounts): void {
      const t = totals.get(group, account);
      t.input += tokens.input;
      t.cached += tokens.cachedInput;
      t.tallies.input.inc(tokens.input);
      t.tallies.cachedInput.inc(tokens.cachedInput);
      t.tallies.output.inc(tokens.output);
      t.tallies.reasoning.inc(tokens.reasoning);
    },
  };
}

/** Figures read when Prometheus scrapes: the usage queue and the leases held. */
function scrapeTimeGauges(registry: Registry, gauges: DataPlaneGauges): void {
  const registers = [registry];
  new Gauge({
    name: "switchyard_usage_queue_depth",
    help: "Usage records waiting to be sent to the control plane.",
    registers,
    collect() {
      this.set(gauges.usage().depth);
    },
  });
  new Counter({
    name: "switchyard_usage_dropped_total",
    help: "Usage records dropped because the queue was full.",
    registers,
    collect() {
      this.reset();
      this.inc(gauges.usage().dropped);
    },
  });
  new Gauge({
    name: "switchyard_leases_held",
    help: "Leases this data plane holds now (requests admitted and not yet settled), by group.",
    labelNames: ["group"],
    registers,
    collect() {
      this.reset();
      for (const [group, held] of gauges.leasesHeld()) this.set({ group }, held);
    },
  });
}
