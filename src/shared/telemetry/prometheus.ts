import { Counter, collectDefaultMetrics, Registry } from "prom-client";

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

/** Counts of one series, added to its counter when Prometheus scrapes. */
export class Tally {
  pending = 0;

  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(n = 1): void {
    this.pending += n;
  }
}

/**
 * A counter whose series are tallied as plain numbers on the hot path and handed to prom-client at scrape time:
 * a request pays one addition per series, not prom-client's label validation and hashing.
 */
export class TalliedCounter {
  readonly #tallies: Tally[] = [];
  readonly #series: HandleCache<Tally>;

  constructor(options: { name: string; help: string; labelNames: readonly string[]; registry: Registry }) {
    const tallies = this.#tallies;
    const names = options.labelNames;
    this.#series = new HandleCache((a, b, c) => {
      const values = [a, b, c];
      const tally = new Tally(Object.fromEntries(names.map((n, i) => [n, values[i] ?? ""])));
      tallies.push(tally);
      return tally;
    });
    new Counter({
      name: options.name,
      help: options.help,
      labelNames: names,
      registers: [options.registry],
      collect() {
        for (const t of tallies) {
          if (t.pending === 0) continue;
          this.inc(t.labels, t.pending);
          t.pending = 0;
        }
      },
    });
  }

  /** The tally of the series with these label values (in `labelNames` order). */
  get(a: string, b = "", c = ""): Tally {
    return this.#series.get(a, b, c);
  }
}
