import type { Client } from "@connectrpc/connect";
import type { GatewayService, Snapshot } from "../../gen/switchyard/v1/gateway_pb.js";
import type { Logger } from "../../shared/logger.js";
import { OutageLog } from "../../shared/outage-log.js";

/** The snapshot schema versions this data plane understands. */
export const KNOWN_SNAPSHOT_VERSIONS: ReadonlySet<number> = new Set([1]);

/**
 * Follows `GatewayService.WatchSnapshot` and keeps the last good snapshot: a snapshot of an unknown version is
 * ignored (logged), a broken stream is reopened with backoff, and the data plane keeps serving with what it has.
 */
export class SnapshotWatcher {
  /** A client to watch through: any reachable replica (asked again after each broken stream). */
  readonly #client: () => Client<typeof GatewayService> | null;
  readonly #instanceId: string;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #current: Snapshot | null = null;
  readonly #subscribers: Array<(snapshot: Snapshot) => void> = [];
  #firstWaiters: Array<(snapshot: Snapshot) => void> = [];
  /** A broken stream is logged once per run of failures; the last good snapshot is kept meanwhile. */
  readonly #outage: OutageLog;

  constructor(options: {
    client: Client<typeof GatewayService> | (() => Client<typeof GatewayService> | null);
    instanceId: string;
    log: Logger;
  }) {
    const client = options.client;
    this.#client = typeof client === "function" ? client : () => client;
    this.#instanceId = options.instanceId;
    this.#log = options.log;
    this.#outage = new OutageLog(options.log, "config snapshot stream (keeping the last good snapshot)");
  }

  /** The last good snapshot, or null before the first one arrived. */
  get current(): Snapshot | null {
    return this.#current;
  }

  /** Calls `listener` with every new good snapshot. */
  onSnapshot(listener: (snapshot: Snapshot) => void): void {
    this.#subscribers.push(listener);
  }

  /** Resolves once a first snapshot is held (or rejects after `timeoutMs`). */
  async waitForFirst(timeoutMs: number): Promise<Snapshot> {
    if (this.#current) return this.#current;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("no config snapshot from the control plane")),
        timeoutMs,
      );
      this.#firstWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#abort.signal.aborted) {
      const client = this.#client();
      if (!client) {
        // No replica resolved yet (the data plane is starting): not a failure worth a line.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      try {
        const stream = client.watchSnapshot(
          { instanceId: this.#instanceId, knownRevision: this.#current?.revision ?? 0n },
          { signal: this.#abort.signal },
        );
        for await (const message of stream) {
          backoff = 100;
          this.#outage.ok();
          if (message.snapshot) this.#accept(message.snapshot);
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#outage.failed(err);
      }
      await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2)));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  #accept(snapshot: Snapshot): void {
    if (!KNOWN_SNAPSHOT_VERSIONS.has(snapshot.version)) {
      this.#log.warn({ version: snapshot.version }, "snapshot of an unknown version ignored");
      return;
    }
    if (this.#current && snapshot.revision <= this.#current.revision) return;
    this.#current = snapshot;
    for (const waiter of this.#firstWaiters.splice(0)) waiter(snapshot);
    for (const subscriber of this.#subscribers) subscriber(snapshot);
  }
}
