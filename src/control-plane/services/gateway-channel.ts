import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import {
  type ChannelRequest,
  type ChannelResponse,
  ChannelResponseSchema,
  type Operation,
  type OperationResult,
  OperationResultSchema,
  type ReassertLeases,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { asSwitchyardError, ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { contextFromTraceparent } from "../../shared/telemetry/tracing.js";
import type { ChannelRegistry, ReassertingChannel } from "./channel-registry.js";
import type { GatewayHandlers, OperationContext } from "./gateway-handlers.js";

/** Settings of the server side of the lease channel. */
export interface ChannelServerOptions {
  /** This replica's id, sent in ChannelOpened for the data plane's logs. */
  serverId: string;
  leaseTtlMs: number;
  /** Operations in flight per stream before the server stops reading (backpressure). */
  maxOutstanding: number;
  /** Where open channels are listed, so the replica can ask them all to re-assert their leases. */
  registry: ChannelRegistry;
  log: Logger;
  /** Set when tracing is on: an operation carrying a `traceparent` is served in a span of that trace. */
  tracer?: Tracer | null;
  /** Told the size of every batch: operations per message read ("in"), results per message written ("out"). */
  observeBatch?: (direction: "in" | "out", size: number) => void;
}

/**
 * The server side of `GatewayService.Channel`: reads batches of operations, runs each concurrently, and writes
 * results back in batches — whatever finished while the previous write was pending goes out together (natural
 * batching, no timers). A slow admit (waiting for a slot) never holds back the others.
 */
export function createChannelHandler(handlers: GatewayHandlers, options: ChannelServerOptions) {
  return async function* channel(
    requests: AsyncIterable<ChannelRequest>,
    context: HandlerContext,
  ): AsyncIterable<ChannelResponse> {
    const stream = new ChannelStream(handlers, options, context.signal);
    const unregister = options.registry.add(stream);
    stream.read(requests);
    try {
      yield* stream.responses();
    } finally {
      unregister();
      stream.close();
    }
  };
}

/** One open channel: its output queue, in-flight count and lifetime. */
class ChannelStream implements ReassertingChannel {
  readonly #handlers: GatewayHandlers;
  readonly #options: ChannelServerOptions;
  readonly #abort = new AbortController();
  readonly #results: OperationResult[] = [];
  #opened: ChannelResponse | null = null;
  #outstanding = 0;
  #readerDone = false;
  #readerError: unknown = null;
  #wakeWriter: (() => void) | null = null;
  #wakeReader: (() => void) | null = null;
  /** Set when the replica asks for a re-assertion, until the writer sends the request. */
  #reassertToSend = false;
  /** Callers waiting for the data plane's next re-assertion. */
  #reassertWaiters: Array<() => void> = [];

  constructor(handlers: GatewayHandlers, options: ChannelServerOptions, signal: AbortSignal) {
    this.#handlers = handlers;
    this.#options = options;
    // Every waiting admit of the stream listens on this signal.
    setMaxListeners(0, this.#abort.signal);
    signal.addEventListener("abort", () => this.#abort.abort(), { once: true });
  }

  /** Consumes the request stream in the background. */
  read(requests: AsyncIterable<ChannelRequest>): void {
    this.#consume(requests)
      .catch((err: unknown) => {
        this.#readerError = err;
      })
      .finally(() => {
        this.#readerDone = true;
        this.#notifyWriter();
      });
  }

  async #consume(requests: AsyncIterable<ChannelRequest>): Promise<void> {
    let ctx: OperationContext | null = null;
    for await (const request of requests) {
      if (ctx === null) {
        const instanceId = request.open?.instanceId ?? "";
        if (instanceId === "") {
          throw new ConnectError(
            "the first channel message must carry open.instance_id",
            Code.InvalidArgument,
          );
        }
        ctx = { instanceId, signal: this.#abort.signal };
        // The data plane's running leases count again before anything it asks for next (and before `opened`).
        if (request.reassert) await this.#reassert(request.reassert, ctx);
        this.#opened = create(ChannelResponseSchema, {
          opened: {
            serverId: this.#options.serverId,
            leaseTtlMs: this.#options.leaseTtlMs,
            maxOutstanding: this.#options.maxOutstanding,
          },
        });
        this.#notifyWriter();
      } else if (request.reassert) await this.#reassert(request.reassert, ctx);
      if (request.operations.length > 0) this.#options.observeBatch?.("in", request.operations.length);
      for (const operation of request.operations) this.#start(operation, ctx);
      while (this.#outstanding >= this.#options.maxOutstanding && !this.#abort.signal.aborted) {
        await new Promise<void>((resolve) => {
          this.#wakeReader = resolve;
        });
      }
    }
  }

  async #reassert(leases: ReassertLeases, ctx: OperationContext): Promise<void> {
    try {
      const held = await this.#handlers.reassert(leases, ctx);
      if (leases.leases.length > 0)
        this.#options.log.info(
          { instanceId: ctx.instanceId, leases: leases.leases.length, held },
          "leases re-asserted",
        );
    } catch (err) {
      this.#options.log.warn({ err, instanceId: ctx.instanceId }, "lease re-assertion failed");
    } finally {
      for (const resolve of this.#reassertWaiters.splice(0)) resolve();
    }
  }

  askReassert(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#reassertWaiters.push(resolve);
      this.#reassertToSend = true;
      this.#notifyWriter();
    });
  }

  #start(operation: Operation, ctx: OperationContext): void {
    this.#outstanding++;
    const tracer = this.#options.tracer;
    const run =
      tracer && operation.traceparent !== ""
        ? dispatchTraced(tracer, this.#handlers, operation, ctx, this.#options.log)
        : dispatch(this.#handlers, operation, ctx, this.#options.log);
    void run.then((result) => {
      this.#outstanding--;
      this.#results.push(result);
      this.#notifyWriter();
      if (this.#wakeReader && this.#outstanding < this.#options.maxOutstanding) {
        const wake = this.#wakeReader;
        this.#wakeReader = null;
        wake();
      }
    });
  }

  /** Yields ChannelOpened first, then result batches until the client half-closes and all operations answered. */
  async *responses(): AsyncIterable<ChannelResponse> {
    for (;;) {
      if (this.#opened) {
        yield this.#opened;
        this.#opened = null;
        continue;
      }
      if (this.#results.length > 0 || this.#reassertToSend) {
        const reassert = this.#reassertToSend;
        this.#reassertToSend = false;
        if (this.#results.length > 0) this.#options.observeBatch?.("out", this.#results.length);
        yield create(ChannelResponseSchema, { results: this.#results.splice(0), reassert });
        continue;
      }
      if (this.#readerDone && this.#outstanding === 0) break;
      await new Promise<void>((resolve) => {
        this.#wakeWriter = resolve;
      });
    }
    if (this.#readerError !== null) throw this.#readerError;
  }

  /** Ends the stream's operations: waiting admits see the abort and leave their queues. */
  close(): void {
    this.#abort.abort();
    this.#wakeReader?.();
    for (const resolve of this.#reassertWaiters.splice(0)) resolve();
  }

  #notifyWriter(): void {
    const wake = this.#wakeWriter;
    this.#wakeWriter = null;
    wake?.();
  }
}

/**
 * {@link dispatch} inside a SERVER span parented on the operation's `traceparent` (the data plane's stage span), so
 * the admission's PostgreSQL and Redis calls — traced stores — join the client request's trace.
 */
function dispatchTraced(
  tracer: Tracer,
  handlers: GatewayHandlers,
  operation: Operation,
  ctx: OperationContext,
  log: Logger,
): Promise<OperationResult> {
  const parent = contextFromTraceparent(operation.traceparent);
  const kind = operation.kind.case ?? "unknown";
  return tracer.startActiveSpan(
    `switchyard.v1.GatewayService/${kind}`,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.method": kind } },
    parent,
    async (span) => {
      const result = await dispatch(handlers, operation, ctx, log);
      if (result.kind.case === "failure") {
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.kind.value.message });
      } else if (result.kind.case === "admit") {
        const lease = result.kind.value.lease;
        span.setAttribute("switchyard.account_id", lease?.target?.accountId ?? "");
        span.setAttribute(
          "gen_ai.request.model",
          operation.kind.case === "admit" ? operation.kind.value.model : "",
        );
      }
      span.end();
      return result;
    },
  );
}

/** Runs one operation and packs its answer or its failure. Never rejects. */
async function dispatch(
  handlers: GatewayHandlers,
  operation: Operation,
  ctx: OperationContext,
  log: Logger,
): Promise<OperationResult> {
  const correlationId = operation.correlationId;
  try {
    const kind = operation.kind;
    switch (kind.case) {
      case "authenticate":
        return packed(correlationId, {
          case: kind.case,
          value: await handlers.authenticate(kind.value, ctx),
        });
      case "admit":
        return packed(correlationId, { case: kind.case, value: await handlers.admit(kind.value, ctx) });
      case "cancelAdmit":
        return packed(correlationId, { case: kind.case, value: await handlers.cancelAdmit(kind.value, ctx) });
      case "reroute":
        return packed(correlationId, { case: kind.case, value: await handlers.reroute(kind.value, ctx) });
      case "renew":
        return packed(correlationId, { case: kind.case, value: await handlers.renew(kind.value, ctx) });
      case "release":
        return packed(correlationId, { case: kind.case, value: await handlers.release(kind.value, ctx) });
      case "reportUsage":
        return packed(correlationId, { case: kind.case, value: await handlers.reportUsage(kind.value, ctx) });
      default:
        throw new SwitchyardError(ErrorCode.INVALID_ARGUMENT, { message: "operation has no kind" });
    }
  } catch (err) {
    const failure = asSwitchyardError(err);
    if (failure.code === ErrorCode.INTERNAL)
      log.error({ err, operation: operation.kind.case }, "operation failed");
    return packed(correlationId, { case: "failure", value: failure.toFailure() });
  }
}

function packed(correlationId: number, kind: OperationResult["kind"]): OperationResult {
  return create(OperationResultSchema, { correlationId, kind });
}
