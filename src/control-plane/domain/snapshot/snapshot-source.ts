import { create } from "@bufbuild/protobuf";
import { type Snapshot, SnapshotSchema } from "../../../gen/switchyard/v1/gateway_pb.js";
import type { GatewaySettings } from "../../../gen/switchyard/v1/types_pb.js";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { ChangeFeed, ChangeKind } from "../change-feed.js";

/** The snapshot schema version this control plane writes (data planes ignore versions they do not know). */
export const SNAPSHOT_VERSION = 1;

/** Changes that alter what data planes need. */
const RELEVANT: ReadonlySet<ChangeKind> = new Set([
  "passthrough_rule",
  "settings",
  "account",
  "group",
  "reset",
]);

/** Where the snapshot's parts come from. */
export interface SnapshotParts {
  passthroughRules: Snapshot["passthroughRules"];
  groupModels: Snapshot["groupModels"];
  settings: GatewaySettings;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * Holds the current config snapshot and rebuilds it shortly after any relevant change, so a new snapshot reaches
 * every watching data plane well within a second. Revisions are build times in epoch ms: increasing on a replica,
 * and comparable across replicas.
 */
export class SnapshotSource {
  readonly #load: () => Promise<SnapshotParts>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #debounceMs: number;
  #current: Snapshot | null = null;
  #building: Promise<Snapshot> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The current retry delay after failed rebuilds; 0 while they succeed. */
  #retryMs = 0;
  readonly #watchers = new Set<() => void>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    load: () => Promise<SnapshotParts>;
    feed: ChangeFeed;
    clock: Clock;
    log: Logger;
    debounceMs?: number;
  }) {
    this.#load = deps.load;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#debounceMs = deps.debounceMs ?? 50;
    this.#unsubscribe = deps.feed.subscribe((change) => {
      if (RELEVANT.has(change.kind)) this.#scheduleRebuild();
    });
  }

  /** The current snapshot, built on first use. */
  async current(): Promise<Snapshot> {
    if (this.#current) return this.#current;
    return this.#rebuild();
  }

  /** Resolves on the next rebuild, or when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#watchers.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#watchers.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  close(): void {
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of [...this.#watchers]) w();
  }

  /**
   * Rebuilds after the debounce; a failed rebuild (the database is away) is tried again with backoff up to
   * RETRY_MAX_MS, so the change that asked for it is not lost — logged once per run of failures.
   */
  #scheduleRebuild(delayMs = this.#debounceMs): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#rebuild().then(
        () => {
          if (this.#retryMs > 0) this.#log.info("snapshot rebuilt after failures");
          this.#retryMs = 0;
        },
        (err: unknown) => {
          if (this.#retryMs === 0) this.#log.warn({ err }, "snapshot rebuild failed; retrying");
          this.#retryMs = Math.min(Math.max(this.#retryMs * 2, RETRY_MIN_MS), RETRY_MAX_MS);
          this.#scheduleRebuild(this.#retryMs);
        },
      );
    }, delayMs);
    this.#timer.unref();
  }

  async #rebuild(): Promise<Snapshot> {
    this.#building ??= (async () => {
      const parts = await this.#load();
      const previous = this.#current ? Number(this.#current.revision) : 0;
      const snapshot = create(SnapshotSchema, {
        version: SNAPSHOT_VERSION,
        revision: BigInt(Math.max(this.#clock.now(), previous + 1)),
        ...parts,
      });
      this.#current = snapshot;
      for (const w of [...this.#watchers]) w();
      return snapshot;
    })().finally(() => {
      this.#building = null;
    });
    return this.#building;
  }
}
