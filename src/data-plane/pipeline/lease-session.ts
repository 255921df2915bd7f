import { type Lease, ReleaseScope, UpstreamFailureKind } from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint } from "../../gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../shared/api-key.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import { statusLabel } from "../../shared/telemetry/prometheus.js";
import type { ControlPlaneCalls, OperationInit, OperationResponse } from "../control/lease-channel.js";
import type { HeldLease, LeaseKeeper } from "../control/lease-keeper.js";
import type { UsageReporter } from "../control/usage-reporter.js";
import type { DataPlaneMetrics } from "../metrics.js";
import type { StageSpan } from "../observability/request-trace.js";
import type { UpstreamAttemptFailureKind } from "../upstream/failure.js";
import type { Refusal, Relayed } from "./attempt.js";
import type { RequestContext } from "./request-context.js";
import { sessionHash } from "./session-hash.js";

/** What a lease session talks to. */
export interface LeaseSessionDeps {
  channel: ControlPlaneCalls;
  /** Keeps the leases of running requests alive (and re-asserts them after an outage). */
  keeper: LeaseKeeper;
  usage: UsageReporter;
  metrics: DataPlaneMetrics;
  /** Longest wait for an admit or a reroute (either may wait for a slot). */
  controlTimeoutMs: number;
}

/** A failed attempt as the control plane penalises it (proto `UpstreamFailure`). */
export type AttemptFailure = ReturnType<typeof attemptFailure>;

const FAILURE_KINDS: Record<UpstreamAttemptFailureKind, UpstreamFailureKind> = {
  http_status: UpstreamFailureKind.HTTP_STATUS,
  transport: UpstreamFailureKind.TRANSPORT,
  headers_timeout: UpstreamFailureKind.HEADERS_TIMEOUT,
  empty_stream: UpstreamFailureKind.EMPTY_STREAM,
};

/** The refusal as the control plane penalises it. */
export function attemptFailure(refusal: Refusal, skipMonitoring: boolean) {
  const f = refusal.failure;
  return {
    kind: FAILURE_KINDS[f.kind],
    status: f.status,
    resetAfterMs: f.resetAfterMs,
    message: f.message,
    skipMonitoring,
  };
}

/**
 * One request's lease, from the admit to the settle (DESIGN.md §3): the lease it currently runs under, the accounts
 * it already failed on, its renewals (the keeper holds it), the user slot given back as soon as the client leaves,
 * and at the end the release with its outcome and the usage report — both off the client's path. The failover loop
 * decides; the session does what the lease needs.
 */
export class LeaseSession {
  readonly #ctx: RequestContext;
  readonly #deps: LeaseSessionDeps;
  #lease: Lease;
  /** Every account this request failed on, the current one included once it fails. */
  readonly #excluded: string[] = [];
  readonly #held: HeldLease;
  readonly #onGone = () => {
    this.#held.userSlotReleased();
    void this.#release({ scope: ReleaseScope.USER_SLOT });
  };

  private constructor(ctx: RequestContext, deps: LeaseSessionDeps, lease: Lease) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#lease = lease;
    ctx.lease = lease;
    this.#held = deps.keeper.hold(lease);
    ctx.clientGone.addEventListener("abort", this.#onGone, { once: true });
  }

  /** Asks for a lease (waiting for slots up to the control timeout) and holds it. */
  static async admit(
    ctx: RequestContext,
    deps: LeaseSessionDeps,
    key: string,
    json: Readonly<Record<string, unknown>>,
  ): Promise<LeaseSession> {
    const started = performance.now();
    const span = ctx.trace.stage("admit");
    let answer: OperationResponse<"admit">;
    try {
      answer = await deps.channel.call(
        "admit",
        {
          requestId: ctx.requestId,
          keySha256: hashApiKey(key),
          model: ctx.model,
          stream: ctx.stream,
          endpoint: ctx.api === "chat" ? Endpoint.CHAT_COMPLETIONS : Endpoint.RESPONSES,
          sessionHash: sessionHash(ctx.req.headers, json, ctx.api),
          previousResponseId: typeof json.previous_response_id === "string" ? json.previous_response_id : "",
          clientIp: ctx.clientIp(),
          maxWaitMs: deps.controlTimeoutMs,
        },
        { timeoutMs: deps.controlTimeoutMs, signal: ctx.clientGone, traceparent: span.traceparent },
      );
    } catch (err) {
      span.fail(err);
      throw err;
    }
    span.end();
    const lease = answer.lease;
    if (!lease?.target)
      throw new SwitchyardError(ErrorCode.INTERNAL, { message: "admit answered without a lease" });
    deps.metrics.leaseWait.observe((lease.userWaitMs + lease.accountWaitMs) / 1000);
    deps.metrics.overhead.get(ctx.api).observe((performance.now() - started) / 1000);
    return new LeaseSession(ctx, deps, lease);
  }

  /** The lease of the current attempt. */
  get lease(): Lease {
    return this.#lease;
  }

  /**
   * Moves the lease off the account that refused (which the control plane penalises and excludes) onto another;
   * false when no other account can take it now.
   */
  async reroute(refusal: Refusal, skipMonitoring: boolean): Promise<boolean> {
    const ctx = this.#ctx;
    const from = this.#lease;
    this.#excluded.push(from.target?.accountId ?? "");
    const f = refusal.failure;
    try {
      const { lease: next } = await this.#deps.channel.call(
        "reroute",
        {
          leaseId: from.leaseId,
          failure: attemptFailure(refusal, skipMonitoring),
          excludedAccountIds: this.#excluded,
        },
        {
          timeoutMs: this.#deps.controlTimeoutMs,
          signal: ctx.clientGone,
          traceparent: ctx.trace.traceparent,
        },
      );
      if (!next) return false;
      ctx.failovers++;
      this.#deps.metrics.failovers.get(f.kind === "http_status" ? statusLabel(f.status) : f.kind).inc();
      ctx.log.info(
        { from: from.target?.accountId, to: next.target?.accountId, reason: f.kind },
        "failed over",
      );
      this.#lease = next;
      ctx.lease = next;
      this.#held.update(next);
      return true;
    } catch (err) {
      ctx.log.info({ err, status: f.status }, "no other account to fail over to");
      return false;
    }
  }

  /**
   * The request is answered: releases the lease with its outcome (and the refusal that ended it, when no reroute
   * penalised its account) and reports usage. Never awaited by the client's path.
   */
  settle(result: Relayed, failure?: AttemptFailure): void {
    const ctx = this.#ctx;
    const deps = this.#deps;
    const lease = this.#lease;
    ctx.settled = result;
    const span = ctx.trace.stage("settle");
    if (ctx.timings.upstream !== undefined) {
      deps.metrics.upstreamLatency.get(ctx.api).observe(ctx.timings.upstream / 1000);
    }
    if (result.firstTokenMs > 0)
      deps.metrics.timeToFirstToken.get(ctx.api).observe(result.firstTokenMs / 1000);
    const u = result.usage;
    if (u) deps.metrics.countTokens(lease.principal?.groupId ?? "", lease.target?.accountId ?? "", u);
    if (u?.outOfRange) {
      deps.metrics.usageOutOfRange.inc();
      ctx.log.warn(
        { upstreamRequestId: result.upstreamRequestId },
        "upstream reported token counts out of range",
      );
    }
    const release = {
      scope: ReleaseScope.ALL,
      outcome: result.outcome,
      upstreamStatus: result.status,
      responseId: result.responseId,
      ...(failure ? { failure } : {}),
      ...(result.subscriptionUsage ? { subscriptionUsage: result.subscriptionUsage } : {}),
    };
    const usage = {
      requestId: ctx.requestId,
      leaseId: lease.leaseId,
      leaseTicket: lease.ticket,
      ...(lease.principal ? { principal: lease.principal } : {}),
      accountId: lease.target?.accountId ?? "",
      requestedModel: ctx.model,
      upstreamModel: lease.target?.upstreamModel ?? ctx.model,
      endpoint: ctx.api === "chat" ? Endpoint.CHAT_COMPLETIONS : Endpoint.RESPONSES,
      stream: ctx.stream,
      tokens: {
        inputTokens: u?.input ?? 0,
        cachedInputTokens: u?.cachedInput ?? 0,
        outputTokens: u?.output ?? 0,
        reasoningTokens: u?.reasoning ?? 0,
      },
      usageOutOfRange: u?.outOfRange ?? false,
      outcome: result.outcome,
      statusCode: ctx.res.statusCode,
      firstTokenMs: result.firstTokenMs,
      durationMs: Math.round(ctx.elapsed()),
      failoverCount: ctx.failovers,
      upstreamRequestId: result.upstreamRequestId,
      startedAtMs: BigInt(ctx.startedAtMs),
      clientIp: ctx.clientAddress,
      userAgent: ctx.userAgent,
    };
    // The usage record rides on the release: one operation, so no crash can come between them.
    deps.usage.carry(usage, async (carried) => {
      const answer = await this.#release({ ...release, usage: carried }, span);
      return answer?.usageRecorded === true;
    });
  }

  /** Stops renewing and watching the client; the release (if any) is already on its way. */
  close(): void {
    this.#held.end();
    this.#ctx.clientGone.removeEventListener("abort", this.#onGone);
  }

  /** Releases the lease; its answer, or null when the release failed (the lease then expires). */
  async #release(
    fields: Omit<Exclude<OperationInit<"release">, { $typeName: string }>, "leaseId">,
    span?: StageSpan,
  ): Promise<OperationResponse<"release"> | null> {
    const lease = this.#lease;
    try {
      const answer = await this.#deps.channel.call(
        "release",
        { leaseId: lease.leaseId, ticket: lease.ticket, ...fields },
        { timeoutMs: 30_000, traceparent: span?.traceparent ?? "" },
      );
      span?.end();
      return answer;
    } catch (err) {
      span?.fail(err);
      this.#ctx.log.warn({ err, leaseId: lease.leaseId }, "release failed; the lease will expire");
      return null;
    }
  }
}
