import type { Snapshot } from "../../gen/switchyard/v1/gateway_pb.js";

/** The `model` label for a requested model the snapshot does not name (or before any snapshot). */
export const OTHER_MODEL = "other";

/**
 * Bounds the `model` label of the data plane's metrics to the models the current snapshot names (every group's
 * model list: account mapping keys, or the default list where no mapping restricts), so a client asking for
 * `no-such-model` adds no series. The set is rebuilt when the snapshot changes, never per request.
 */
export class ModelLabels {
  readonly #current: () => Snapshot | null;
  #snapshot: Snapshot | null = null;
  #known: ReadonlySet<string> = new Set();
  /** Mapping keys ending in `*`, longest first: a model they match is labelled with the pattern itself. */
  #patterns: readonly string[] = [];

  constructor(current: () => Snapshot | null) {
    this.#current = current;
  }

  /** `model` when the snapshot names it, the `prefix*` pattern that matches it, else {@link OTHER_MODEL}. */
  label(model: string): string {
    const snapshot = this.#current();
    if (snapshot !== this.#snapshot) this.#rebuild(snapshot);
    if (this.#known.has(model)) return model;
    for (const pattern of this.#patterns) if (model.startsWith(pattern.slice(0, -1))) return pattern;
    return OTHER_MODEL;
  }

  #rebuild(snapshot: Snapshot | null): void {
    this.#snapshot = snapshot;
    const names = snapshot?.groupModels.flatMap((g) => g.models) ?? [];
    this.#known = new Set(names.filter((m) => !m.endsWith("*")));
    this.#patterns = [...new Set(names.filter((m) => m.endsWith("*")))].sort((a, b) => b.length - a.length);
  }
}
