import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  type ChannelRequest,
  ChannelRequestSchema,
  type GatewayService,
  type Operation,
  type OperationResult,
  OperationSchema,
  type ReassertLeases,
  ReleaseScope,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { Outcome } from "../../gen/switchyard/v1/types_pb.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { OutageLog } from "../../shared/outage-log.js";

/** The operations the channel carries. */
export type OperationKind = Exclude<Operation["kind"]["case"], undefined>;
/** The request message of an operation kind. */
export type OperationRequest<K extends OperationKind> = Extract<Operation["kind"], { case: K }>["value"];
/** What a caller passes for an operation: the request message or a plain object of its fields. */
export type OperationInit<K extends OperationKind> = Extract<
  NonNullable<MessageInitShape<typeof OperationSchema>["kind"]>,
  { case: K }
>["value"];
/** The response message of an operation kind. */
export type OperationResponse<K extends OperationKind> = Extract<
  OperationResult["kind"],
  { case: K }
>["value"];

/**
 * Kinds a client request waits for: while no channel is connected they fail after `unavailableAfterMs` (the client
 * gets a 503 it can retry, not a hang); the others (renew, release, usage) wait for the reconnect.
 */
const FAIL_FAST: ReadonlySet<OperationKind> = new Set(["authenticate", "admit", "reroute"]);

/** Operations per channel message at most, and usage batches among them, so a message stays far below the control
 * plane's read limit (GATEWAY_READ_MAX_BYTES) whatever piled up while it was away. */
const MAX_OPERATIONS_PER_MESSAGE = 1_000;
const MAX_USAGE_BATCHES_PER_MESSAGE = 4;

/** Kinds safe to send again after a reconnect: idempotent on the server (admit by request id). */
const RESENDABLE: ReadonlySet<OperationKind> = new Set([
  "authenticate",
  "admit",
  "renew",
  "release",
  "reportUsage",
]);

/** How one operation is sent. */
export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The W3C trace context of the span the operation serves (when tracing): control-plane spans join it. */
  traceparent?: string;
}

/** What the data plane asks of the control plane: one lease channel, or a pool of them (one per replica). */
export interface ControlPlaneCalls {
  /** Whether the control plane can be reached now. */
  readonly connected: boolean;
  /**
   * Sends one operation and resolves with its response, or rejects with the SwitchyardError the control plane
   * answered, CONTROL_PLANE_UNAVAILABLE after `timeoutMs` (or when no control plane is reachable), or when `signal`
   * aborts.
   */
  call<K extends OperationKind>(
    kind: K,
    request: OperationInit<K>,
    options: CallOptions,
  ): Promise<OperationResponse<K>>;
}

/** Settings of {@link LeaseChannel}. */
export interface LeaseChannelOptions {
  client: Client<typeof GatewayService>;
  /** This data plane's id; it owns the leases taken over the channel. */
  instanceId: string;
  version: string;
  log: Logger;
  /** Reconnect backoff bounds. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * With no stream connected, how long an operation a client waits for (admit, reroute) may wait for one before it
   * fails with CONTROL_PLANE_UNAVAILABLE (SWITCHYARD_CONTROL_PLANE_WAIT_MS). Default 1500.
   */
  unavailableAfterMs?: number;
  /** The data plane's live leases, re-asserted with `open` and whenever the control plane asks (LeaseKeeper). */
  reassertion?: () => ReassertLeases;
  /** Told when the channel becomes connected (the control plane answered `open`) or loses its stream. */
  onStateChange?: (connected: boolean) => void;
}

/**
 * A call waiting for its answer. It can move to another channel (a replica went away): `home` says where it is
 * pending now, so its timeout and cancellation find it there.
 */
interface Pending {
  kind: OperationKind;
  operation: Operation;
  resolve: (value: OperationResult["kind"]["value"]) => void;
  reject: (err: SwitchyardError) => void;
  timer: NodeJS.Timeout;
  /** Armed while no stream is connected, for the kinds in FAIL_FAST. */
  unavailable: NodeJS.Timeout | undefined;
  giveUp: (err: SwitchyardError) => void;
  home: { channel: LeaseChannel; id: number };
}

/** Calls a channel gave up to another one (see {@link LeaseChannel.handOver}); opaque to other code. */
export type MovableCalls = readonly Pending[];

/**
 * The data plane's side of the lease channel (docs/adr/0001): operations are queued, written in batches whenever
 * the stream can take a write (a lone operation goes at once), and matched to results by correlation id. Each call
 * has its own deadline. The stream reconnects with backoff; unanswered idempotent operations are sent again, so a
 * control-plane restart costs latency, not slots.
 */
export class LeaseChannel implements ControlPlaneCalls {
  readonly #options: LeaseChannelOptions;
  readonly #pending = new Map<number, Pending>();
  /** Admits whose caller gave up: if their lease arrives anyway, it is released at once. */
  readonly #abandonedAdmits = new Set<number>();
  #queue: Operation[] = [];
  #nextId = 1;
  #wakeSender: (() => void) | null = null;
  #stream: AbortController | null = null;
  #closed = false;
  #connected = false;
  #connectedListeners: Array<() => void> = [];
  /** The control plane asked for a re-assertion: the next message carries it. */
  #reassertRequested = false;
  /** A broken or refused stream is logged once per outage, not once per reconnect attempt. */
  readonly #outage: OutageLog;

  constructor(options: LeaseChannelOptions) {
    this.#options = options;
    this.#outage = new OutageLog(options.log, "control plane (lease channel)");
  }

  /** Whether a stream is open and the control plane has answered its `open`. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Calls waiting for an answer on this channel. */
  get outstanding(): number {
    return this.#pending.size;
  }

  /**
   * Gives up every unanswered call that may be sent again (admit, renew, release, usage…) for another channel to
   * {@link adopt}: their callers keep waiting, unaware. What cannot be resent stays (and fails with this stream).
   */
  handOver(): MovableCalls {
    const moving = [...this.#pending.values()].filter((p) => RESENDABLE.has(p.kind));
    for (const p of moving) {
      this.#pending.delete(p.home.id);
      clearTimeout(p.unavailable);
      p.unavailable = undefined;
    }
    return moving;
  }

  /** Takes over calls another channel handed over, and sends them (an admit as a resend: it is idempotent). */
  adopt(calls: MovableCalls): void {
    for (const p of calls) {
      const id = this.#nextId++;
      p.home = { channel: this, id };
      p.operation = create(OperationSchema, {
        correlationId: id,
        kind: p.operation.kind,
        traceparent: p.operation.traceparent,
      });
      if (p.operation.kind.case === "admit") p.operation.kind.value.resend = true;
      this.#pending.set(id, p);
      if (this.#connected) this.#enqueue(p.operation);
      else this.#armUnavailable(p);
    }
  }

  /** Opens the stream and keeps it open (reconnecting) until {@link close}. */
  start(): void {
    void this.#run();
  }

  /** Resolves once connected (or rejects after `timeoutMs`). */
  async waitConnected(timeoutMs: number): Promise<void> {
    if (this.#connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable("control plane not reachable")), timeoutMs);
      this.#connectedListeners.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Sends one operation and resolves with its response, or rejects with the SwitchyardError the control plane
   * answered, CONTROL_PLANE_UNAVAILABLE after `timeoutMs`, or when `signal` aborts.
   */
  call<K extends OperationKind>(
    kind: K,
    request: OperationInit<K>,
    options: CallOptions,
  ): Promise<OperationResponse<K>> {
    if (this.#closed) return Promise.reject(new SwitchyardError(ErrorCode.SHUTTING_DOWN));
    if (options.signal?.aborted) {
      return Promise.reject(new SwitchyardError(ErrorCode.INTERNAL, { message: "operation cancelled" }));
    }
    const correlationId = this.#nextId++;
    const operation = create(OperationSchema, {
      correlationId,
      kind: { case: kind, value: request } as MessageInitShape<typeof OperationSchema>["kind"],
      traceparent: options.traceparent ?? "",
    });
    return new Promise<OperationResponse<K>>((resolve, reject) => {
      const giveUp = (err: SwitchyardError) => {
        const { channel, id } = entry.home;
        if (!channel.#pending.delete(id)) return;
        clearTimeout(entry.timer);
        clearTimeout(entry.unavailable);
        options.signal?.removeEventListener("abort", onAbort);
        if (kind === "admit") channel.#withdrawAdmit(id, request as OperationRequest<"admit">);
        reject(err);
      };
      const onAbort = () =>
        giveUp(new SwitchyardError(ErrorCode.INTERNAL, { message: "operation cancelled" }));
      const entry: Pending = {
        kind,
        operation,
        resolve: (value) => {
          options.signal?.removeEventListener("abort", onAbort);
          (resolve as (v: unknown) => void)(value);
        },
        reject: (err) => {
          options.signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
        timer: setTimeout(
          () => giveUp(unavailable("control plane did not answer in time")),
          options.timeoutMs,
        ),
        unavailable: undefined,
        giveUp,
        home: { channel: this, id: correlationId },
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(correlationId, entry);
      if (!this.#connected) this.#armUnavailable(entry);
      this.#enqueue(operation);
    });
  }

  /** Stops reconnecting, fails what is still pending and closes the stream. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      clearTimeout(p.unavailable);
      this.#pending.delete(id);
      p.reject(new SwitchyardError(ErrorCode.SHUTTING_DOWN));
    }
    this.#wakeSender?.();
    this.#stream?.abort();
  }

  #enqueue(operation: Operation): void {
    this.#queue.push(operation);
    const wake = this.#wakeSender;
    this.#wakeSender = null;
    wake?.();
  }

  /** The admit's caller is gone: withdraw it if still waiting; a lease already granted is released on arrival. */
  #withdrawAdmit(correlationId: number, request: OperationRequest<"admit">): void {
    this.#abandonedAdmits.add(correlationId);
    this.#enqueue(
      create(OperationSchema, {
        correlationId: this.#nextId++,
        kind: { case: "cancelAdmit", value: { requestId: request.requestId } },
      }),
    );
  }

  async #run(): Promise<void> {
    let backoff = this.#options.reconnectMinMs ?? 100;
    while (!this.#closed) {
      const started = Date.now();
      await this.#runStream();
      if (this.#closed) break;
      if (Date.now() - started > 5_000) backoff = this.#options.reconnectMinMs ?? 100;
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      await new Promise((resolve) => setTimeout(resolve, jittered));
      backoff = Math.min(backoff * 2, this.#options.reconnectMaxMs ?? 2_000);
    }
  }

  /** One stream's life: send open + resend pending, then pump both directions until it ends. */
  async #runStream(): Promise<void> {
    const abort = new AbortController();
    this.#stream = abort;
    this.#queue = [...this.#resendable(), ...this.#queue.filter((op) => op.kind.case === "cancelAdmit")];
    try {
      for await (const response of this.#options.client.channel(this.#requests(abort.signal), {
        signal: abort.signal,
      })) {
        if (response.opened) this.#markConnected(response.opened.serverId);
        if (response.reassert) this.#requestReassert();
        for (const result of response.results) this.#settle(result);
      }
    } catch (err) {
      if (!this.#closed) this.#outage.failed(err);
    } finally {
      abort.abort();
      const wasConnected = this.#connected;
      this.#connected = false;
      this.#failUnresendable();
      for (const p of this.#pending.values()) this.#armUnavailable(p);
      if (wasConnected) this.#options.onStateChange?.(false);
    }
  }

  async *#requests(signal: AbortSignal): AsyncIterable<ChannelRequest> {
    // The running leases count again before any operation of this stream is looked at (docs/adr/0004).
    this.#reassertRequested = false;
    yield create(ChannelRequestSchema, {
      open: { instanceId: this.#options.instanceId, version: this.#options.version },
      ...this.#reassertPart(),
    });
    while (!signal.aborted && !this.#closed) {
      if (this.#reassertRequested) {
        this.#reassertRequested = false;
        yield create(ChannelRequestSchema, { operations: this.#nextBatch(), ...this.#reassertPart() });
        continue;
      }
      if (this.#queue.length === 0) {
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          this.#wakeSender = () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          };
          signal.addEventListener("abort", onAbort, { once: true });
        });
        continue;
      }
      yield create(ChannelRequestSchema, { operations: this.#nextBatch() });
    }
  }

  #reassertPart(): { reassert?: ReassertLeases } {
    const reassertion = this.#options.reassertion?.();
    return reassertion ? { reassert: reassertion } : {};
  }

  /** What the next message carries: the queue's head, bounded in operations and usage batches. */
  #nextBatch(): Operation[] {
    let usage = 0;
    let end = 0;
    while (end < this.#queue.length && end < MAX_OPERATIONS_PER_MESSAGE) {
      if (this.#queue[end]?.kind.case === "reportUsage" && ++usage > MAX_USAGE_BATCHES_PER_MESSAGE) break;
      end++;
    }
    return this.#queue.splice(0, Math.max(end, 1));
  }

  #requestReassert(): void {
    this.#reassertRequested = true;
    const wake = this.#wakeSender;
    this.#wakeSender = null;
    wake?.();
  }

  /** While no stream is connected, a client-facing operation fails after `unavailableAfterMs`. */
  #armUnavailable(p: Pending): void {
    if (!FAIL_FAST.has(p.kind) || p.unavailable !== undefined) return;
    p.unavailable = setTimeout(
      () => p.giveUp(unavailable("control plane not reachable", 1_000)),
      this.#options.unavailableAfterMs ?? 1_500,
    );
  }

  #settle(result: OperationResult): void {
    const pending = this.#pending.get(result.correlationId);
    if (!pending) {
      this.#releaseLateLease(result);
      return;
    }
    this.#pending.delete(result.correlationId);
    clearTimeout(pending.timer);
    if (result.kind.case === "failure") pending.reject(SwitchyardError.fromFailure(result.kind.value));
    else if (result.kind.case === pending.kind) pending.resolve(result.kind.value);
    else
      pending.reject(new SwitchyardError(ErrorCode.INTERNAL, { message: `unexpected ${result.kind.case}` }));
  }

  /** A lease granted to an admit whose caller already left: give the slots back at once. */
  #releaseLateLease(result: OperationResult): void {
    if (!this.#abandonedAdmits.delete(result.correlationId)) return;
    if (result.kind.case !== "admit" || !result.kind.value.lease) return;
    const leaseId = result.kind.value.lease.leaseId;
    void this.call(
      "release",
      { leaseId, scope: ReleaseScope.ALL, outcome: Outcome.CLIENT_ABORTED },
      { timeoutMs: 10_000 },
    ).catch((err: unknown) =>
      this.#options.log.warn({ err, leaseId }, "release of an abandoned lease failed"),
    );
  }

  #resendable(): Operation[] {
    const again = [...this.#pending.values()].filter((p) => RESENDABLE.has(p.kind)).map((p) => p.operation);
    for (const op of again) if (op.kind.case === "admit") op.kind.value.resend = true;
    return again;
  }

  #failUnresendable(): void {
    for (const [id, p] of this.#pending) {
      if (RESENDABLE.has(p.kind)) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(unavailable("lease channel broke"));
    }
  }

  #markConnected(serverId: string): void {
    this.#connected = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.unavailable);
      p.unavailable = undefined;
    }
    this.#outage.ok();
    this.#options.log.info({ serverId }, "lease channel open");
    this.#options.onStateChange?.(true);
    for (const listener of this.#connectedListeners.splice(0)) listener();
  }
}

function unavailable(message: string, retryAfterMs = 0): SwitchyardError {
  return new SwitchyardError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, { message, retryAfterMs });
}
