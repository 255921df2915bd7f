import { Counter, type Registry } from "prom-client";
import type { UnpricedModelListener } from "./store/db/postgres-usage-ledger.js";

/** Counters of usage the ledger could not bill as reported. */
export interface UsageMetrics {
  unpriced: UnpricedModelListener;
  outOfRange: () => void;
  refused: () => void;
}

/**
 * `switchyard_unpriced_usage_total{model}`: usage billed at cost 0 for want of a price (the ledger only counts
 * records with tokens, i.e. models an upstream actually served, so the label set stays as small as the catalog);
 * `switchyard_usage_out_of_range_total`: records whose token counts were distrusted and recorded as 0;
 * `switchyard_usage_refused_total`: records the database refused (isolated from their batch and dropped).
 */
export function createUsageMetrics(registry: Registry): UsageMetrics {
  const unpriced = new Counter({
    name: "switchyard_unpriced_usage_total",
    help: "Usage records billed at cost 0 because the upstream model has no price, by model.",
    labelNames: ["model"],
    registers: [registry],
  });
  const outOfRange = new Counter({
    name: "switchyard_usage_out_of_range_total",
    help: "Usage records whose token counts were out of range (recorded as 0 and flagged).",
    registers: [registry],
  });
  const refused = new Counter({
    name: "switchyard_usage_refused_total",
    help: "Usage records the database refused; dropped alone, the rest of their batch recorded.",
    registers: [registry],
  });
  return {
    unpriced: (model) => unpriced.inc({ model }),
    outOfRange: () => outOfRange.inc(),
    refused: () => refused.inc(),
  };
}
