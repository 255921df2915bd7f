import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type UsageReport, UsageReportSchema } from "../../gen/switchyard/v1/gateway_pb.js";
import { asSwitchyardError, ErrorCode } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { OutageLog } from "../../shared/outage-log.js";
import type { ControlPlaneCalls } from "./lease-channel.js";

/** What the reporter sends; a test or another transport can stand in for the lease channel. */
export type UsageSender = (records: UsageReport[]) => Promise<void>;

/** Sends usage over the lease channel (idempotent on the control plane by request id). */
export function channelUsageSender(channel: ControlPlaneCalls): UsageSender {
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
  /** Records sent with releases, not yet answered. */
  readonly #carried = new Set<Promise<void>>();
  #sending: Promise<void> | null = null;
  #dropped = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #linger: NodeJS.Timeout | null = null;
  #backoff: number;
  /** The batch size now: the configured one, or smaller while a refused record is being isolated. */
  #batchLimit: number;
  readonly #outage: OutageLog;

  constructor(options: UsageReporterOptions) {
    this.#options = {
      maxQueued: 100_000,
      batchSize: 500,
      retryMinMs: 200,
      retryMaxMs: 2_000,
      lingerMs: 25,
      ...options,
    };
    this.#backoff = this.#options.retryMinMs;
    this.#batchLimit = this.#options.batchSize;
    this.#outage = new OutageLog(options.log, "control plane (usage reports; queued for retry)");
  }

  /** Records waiting to be sent (not those on their way with releases: they are sent). */
  get depth(): number {
    return this.#queue.length;
  }

  /** Records dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one record and starts sending if nothing is in flight. */
  report(record: MessageInitShape<typeof UsageReportSchema>): void {
    this.#enqueue(encodable(create(UsageReportSchema, record)));
  }

  /**
   * Sends one record with its lease's release (`send`, one channel operation: a crash between a release and its
   * usage report cannot lose the report). `send` resolves true once the control plane wrote it; otherwise (the
   * release failed, the database was away, a control plane that predates carried usage) the record is queued as
   * {@link report} queues it. {@link flush} waits for the records on their way.
   */
  carry(
    record: MessageInitShape<typeof UsageReportSchema>,
    send: (usage: UsageReport) => Promise<boolean>,
  ): void {
    const usage = encodable(create(UsageReportSchema, record));
    const carried = send(usage).then(
      (written) => {
        if (!written) this.#enqueue(usage);
      },
      () => this.#enqueue(usage),
    );
    this.#carried.add(carried);
    void carried.finally(() => this.#carried.delete(carried));
  }

  #enqueue(record: UsageReport): void {
    if (this.#queue.length >= this.#options.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(record);
    this.#kick();
  }

  /**
   * Sends everything queued, for at most `timeoutMs` in all (a send still in flight at the deadline is not waited
   * for); resolves with how many records are still unsent or unanswered (carried by releases not yet answered).
   */
  async flush(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      // Records on their way with releases come back to the queue if they were not written.
      if (this.#carried.size > 0) await Promise.race([Promise.all(this.#carried), expired]);
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
        await Promise.race([this.#sending, expired]);
        if (this.#queue.length > 0 && Date.now() < deadline)
          await Promise.race([new Promise((r) => setTimeout(r, 200)), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
    return this.#queue.length + this.#carried.size;
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
    const batch = this.#queue.slice(0, this.#batchLimit);
    if (batch.length === 0) {
      this.#sending = null;
      return;
    }
    try {
      await this.#options.send(batch);
      this.#remove(batch);
      this.#outage.ok();
      this.#backoff = this.#options.retryMinMs;
      this.#batchLimit = this.#options.batchSize;
      this.#sending = null;
      if (this.#queue.length > 0) this.#kick();
    } catch (err) {
      this.#sending = null;
      if (isRefusal(err)) {
        this.#isolateRefused(batch, err);
        this.#kick();
        return;
      }
      this.#outage.failed(err);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#kick();
      }, this.#backoff);
      this.#retryTimer.unref();
      this.#backoff = Math.min(this.#backoff * 2, this.#options.retryMaxMs);
    }
  }

  /**
   * The control plane refused the batch as malformed (it never should: it skips bad records alone): send halves
   * until the one record it refuses is alone, then drop that record (counted), so one bad record never stops
   * billing for the rest.
   */
  #isolateRefused(batch: UsageReport[], err: unknown): void {
    if (batch.length > 1) {
      this.#batchLimit = Math.max(1, Math.floor(batch.length / 2));
      return;
    }
    this.#remove(batch);
    this.#dropped++;
    this.#options.log.error({ err, requestId: batch[0]?.requestId }, "usage record refused; dropped");
  }

  /** Records may have been dropped from the head while a batch was in flight: remove by identity. */
  #remove(batch: UsageReport[]): void {
    const sent = new Set(batch);
    this.#queue = this.#queue.filter((r) => !sent.has(r));
  }
}

/** A refusal of the batch itself (it will fail the same way again), as opposed to the control plane being away. */
function isRefusal(err: unknown): boolean {
  const code = asSwitchyardError(err).code;
  return code === ErrorCode.INVALID_ARGUMENT || code === ErrorCode.INVALID_REQUEST;
}

const UINT32_MAX = 4_294_967_295;

/** `v` as a valid uint32: negative, fractional or not-a-number values become 0, larger ones the maximum. */
function uint32(v: number): number {
  return Number.isInteger(v) && v >= 0 ? Math.min(v, UINT32_MAX) : 0;
}

/**
 * The record with every uint32 field a valid uint32: one value that cannot be encoded would fail the whole channel
 * message it travels in — and every resend of it.
 */
function encodable(r: UsageReport): UsageReport {
  r.statusCode = uint32(r.statusCode);
  r.firstTokenMs = uint32(r.firstTokenMs);
  r.durationMs = uint32(r.durationMs);
  r.failoverCount = uint32(r.failoverCount);
  if (r.tokens) {
    r.tokens.inputTokens = uint32(r.tokens.inputTokens);
    r.tokens.cachedInputTokens = uint32(r.tokens.cachedInputTokens);
    r.tokens.outputTokens = uint32(r.tokens.outputTokens);
    r.tokens.reasoningTokens = uint32(r.tokens.reasoningTokens);
  }
  return r;
}
