import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type UsageReport, UsageReportSchema } from "../../gen/switchyard/v1/gateway_pb.js";
import type { Logger } from "../../shared/logger.js";
import type { LeaseChannel } from "./lease-channel.js";

/** What the reporter sends; a test or another transport can stand in for the lease channel. */
export type UsageSender = (records: UsageReport[]) => Promise<void>;

/** Sends usage over the lease channel (idempotent on the control plane by request id). */
export function channelUsageSender(channel: LeaseChannel): UsageSender {
  return async (records) => {
    await channel.call("reportUsage", { records }, { timeoutMs: 10_000 });
  };
}

/** Settings of {@link UsageReporter}. */
export interface UsageReporterOptions {
  send: UsageSender;
  log: Logger;
  /** Records held at most; past it the oldest are dropped (and counted). */
  maxQueued?: number;
  /** Records per batch. */
  batchSize?: number;
  /** Backoff bounds while the control plane is away. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * How long a record may wait for others to share its batch (a full batch goes at once). Sending each record
   * alone would cost the control plane a database transaction per request.
   */
  lingerMs?: number;
}

/**
 * Usage off the client's path: records are queued in memory and sent in batches — after a short linger, or at once
 * when a batch is full — retried with backoff while the control plane is away, and flushed on shutdown. Re-sending
 * is safe: the control plane records each request id once.
 */
export class UsageReporter {
  readonly #options: Required<Omit<UsageReporterOptions, "log" | "send">> &
    Pick<UsageReporterOptions, "log" | "send">;
  #queue: UsageReport[] = [];
  #sending: Promise<void> | null = null;
  #dropped = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #linger: NodeJS.Timeout | null = null;
  #backoff: number;

  constructor(options: UsageReporterOptions) {
    this.#options = {
      maxQueued: 100_000,
      batchSize: 500,
      retryMinMs: 200,
      retryMaxMs: 10_000,
      lingerMs: 25,
      ...options,
    };
    this.#backoff = this.#options.retryMinMs;
  }

  /** Records waiting to be sent. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Records dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one record and starts sending if nothing is in flight. */
  report(record: MessageInitShape<typeof UsageReportSchema>): void {
    if (this.#queue.length >= this.#options.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(create(UsageReportSchema, record));
    this.#kick();
  }

  /** Sends everything queued, waiting up to `timeoutMs`; resolves with how many records are still unsent. */
  async flush(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      if (this.#linger) {
        clearTimeout(this.#linger);
        this.#linger = null;
      }
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
      }
      this.#sending ??= this.#sendBatch();
      await this.#sending;
      if (this.#queue.length > 0)
        await new Promise((r) => setTimeout(r, Math.min(200, deadline - Date.now())));
    }
    await this.#sending;
    return this.#queue.length;
  }

  #kick(): void {
    if (this.#sending || this.#retryTimer) return;
    if (this.#queue.length < this.#options.batchSize && this.#options.lingerMs > 0) {
      if (this.#linger) return;
      this.#linger = setTimeout(() => {
        this.#linger = null;
        if (!this.#sending && !this.#retryTimer) this.#sending = this.#sendBatch();
      }, this.#options.lingerMs);
      return;
    }
    if (this.#linger) clearTimeout(this.#linger);
    this.#linger = null;
    this.#sending = this.#sendBatch();
  }

  async #sendBatch(): Promise<void> {
    const batch = this.#queue.slice(0, this.#options.batchSize);
    if (batch.length === 0) {
      this.#sending = null;
      return;
    }
    try {
      await this.#options.send(batch);
      // Records may have been dropped from the head while the batch was in flight: remove by identity.
      const sent = new Set(batch);
      this.#queue = this.#queue.filter((r) => !sent.has(r));
      this.#backoff = this.#options.retryMinMs;
      this.#sending = null;
      if (this.#queue.length > 0) this.#kick();
    } catch (err) {
      this.#sending = null;
      this.#options.log.warn({ err, queued: this.#queue.length }, "usage report failed; will retry");
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#kick();
      }, this.#backoff);
      this.#retryTimer.unref();
      this.#backoff = Math.min(this.#backoff * 2, this.#options.retryMaxMs);
    }
  }
}
