import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * A plane's metrics registry with the standard process and Node.js runtime metrics (`process_*`, `nodejs_*`:
 * CPU, memory, file descriptors, event-loop lag, GC), as every Prometheus client library exports them.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Label-bound metric handles by up to three label values, built once per combination: the hot path then neither
 * allocates a labels object nor re-hashes one per observation. Combinations are bounded by the caller (routes,
 * statuses, models the snapshot knows, groups and accounts the operator configured).
 */
export class HandleCache<H> {
  readonly #make: (a: string, b: string, c: string) => H;
  readonly #handles = new Map<string, Map<string, Map<string, H>>>();

  constructor(make: (a: string, b: string, c: string) => H) {
    this.#make = make;
  }

  get(a: string, b = "", c = ""): H {
    let byB = this.#handles.get(a);
    if (byB === undefined) {
      byB = new Map();
      this.#handles.set(a, byB);
    }
    let byC = byB.get(b);
    if (byC === undefined) {
      byC = new Map();
      byB.set(b, byC);
    }
    let handle = byC.get(c);
    if (handle === undefined) {
      handle = this.#make(a, b, c);
      byC.set(c, handle);
    }
    return handle;
  }
}

const STATUS_LABELS: string[] = [];

/** An HTTP status as a label value, each string made once. */
export function statusLabel(status: number): string {
  if (!Number.isInteger(status) || status < 0 || status > 999) return String(status);
  STATUS_LABELS[status] ??= String(status);
  return STATUS_LABELS[status];
}
