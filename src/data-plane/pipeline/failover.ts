import type { ServerResponse } from "node:http";
import { type Lease, ReleaseScope, UpstreamFailureKind } from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import type { OpenAIErrorBody } from "../../shared/errors.js";
import { statusLabel } from "../../shared/telemetry/prometheus.js";
import type { ControlPlaneCalls, OperationInit } from "../control/lease-channel.js";
import type { LeaseKeeper } from "../control/lease-keeper.js";
import type { SnapshotWatcher } from "../control/snapshot-watcher.js";
import type { UsageReporter } from "../control/usage-reporter.js";
import type { DataPlaneMetrics } from "../metrics.js";
import type { StageSpan } from "../observability/request-trace.js";
import { exhaustedError, type UpstreamAttemptFailureKind } from "../upstream/failure.js";
import type { TokenUsage } from "../upstream/usage.js";
import { type AttemptDeps, type ClientRequest, type Refusal, type Relayed, runAttempt } from "./attempt.js";
import { inBandError, sendFailure } from "./client-response.js";
import { applyPassthroughRule, matchPassthroughRule } from "./passthrough-match.js";
import type { RequestContext } from "./request-context.js";

/** What the failover loop needs. */
export interface FailoverDeps {
  channel: ControlPlaneCalls;
  /** Keeps the leases of running requests alive (and re-asserts them after an outage). */
  keeper: LeaseKeeper;
  snapshots: SnapshotWatcher;
  usage: UsageReporter;
  metrics: DataPlaneMetrics;
  attempt: AttemptDeps;
  /** Longest wait for a reroute (it may wait for an account slot). */
  controlTimeoutMs: number;
}

const FAILURE_KINDS: Record<UpstreamAttemptFailureKind, UpstreamFailureKind> = {
  http_status: UpstreamFailureKind.HTTP_STATUS,
  transport: UpstreamFailureKind.TRANSPORT,
  headers_timeout: UpstreamFailureKind.HEADERS_TIMEOUT,
  empty_stream: UpstreamFailureKind.EMPTY_STREAM,
};

/**
 * Runs attempts until one answers the client (BEHAVIOUR.md "Failover"): a refusal before the first byte that
 * another account may not repeat moves the lease (reroute: the failed account is penalised and excluded), at most
 * `max_account_switches` times; then the last refusal is answered by passthrough rule, passed through (errors that
 * are the request's own fault), or mapped. The lease is renewed while this runs and released (with usage) at the
 * end; the user slot is given back as soon as the client leaves.
 */
export async function runWithFailover(
  ctx: RequestContext,
  deps: FailoverDeps,
  admitted: Lease,
  request: ClientRequest,
): Promise<void> {
  let lease = admitted;
  const excluded: string[] = [];
  const held = deps.keeper.hold(lease);
  const onGone = () => {
    held.userSlotReleased();
    void release(ctx, deps, lease, { scope: ReleaseScope.USER_SLOT });
  };
  ctx.clientGone.addEventListener("abort", onGone, { once: true });
  try {
    for (;;) {
      const result = await runAttempt(ctx, deps.attempt, lease, request);
      countUpstreamResponse(deps.metrics, lease, result.status);
      if (result.kind === "relayed") return settle(ctx, deps, lease, result);
      const rules = deps.snapshots.current?.passthroughRules ?? [];
      const body = result.body.toString("utf8");
      const rule = matchPassthroughRule(rules, { status: result.status, body, platform: "openai" });
      const maxSwitches = deps.snapshots.current?.settings?.maxAccountSwitches || 3;
      const skipMonitoring = rule?.skipMonitoring ?? false;
      // A reroute penalises the account it leaves; a refusal that is not rerouted is penalised by the release.
      let penalised = !result.failure.failover || ctx.clientGone.aborted;
      if (result.failure.failover && ctx.failovers < maxSwitches && !ctx.clientGone.aborted) {
        const next = await reroute(ctx, deps, lease, result, excluded, skipMonitoring);
        if (next) {
          lease = next;
          ctx.lease = next;
          held.update(next);
          continue;
        }
        penalised = true;
      }
      const status = answerRefusal(ctx, result, rule, body);
      const failure = penalised ? undefined : upstreamFailure(result, skipMonitoring);
      return settle(ctx, deps, lease, refusalOutcome(result, status), failure);
    }
  } finally {
    held.end();
    ctx.clientGone.removeEventListener("abort", onGone);
  }
}

async function reroute(
  ctx: RequestContext,
  deps: FailoverDeps,
  lease: Lease,
  refusal: Refusal,
  excluded: string[],
  skipMonitoring: boolean,
): Promise<Lease | null> {
  excluded.push(lease.target?.accountId ?? "");
  const f = refusal.failure;
  try {
    const { lease: next } = await deps.channel.call(
      "reroute",
      {
        leaseId: lease.leaseId,
        failure: upstreamFailure(refusal, skipMonitoring),
        excludedAccountIds: excluded,
      },
      { timeoutMs: deps.controlTimeoutMs, signal: ctx.clientGone, traceparent: ctx.trace.traceparent },
    );
    if (!next) return null;
    ctx.failovers++;
    deps.metrics.failovers.get(f.kind === "http_status" ? statusLabel(f.status) : f.kind).inc();
    ctx.log.info(
      { from: lease.target?.accountId, to: next.target?.accountId, reason: f.kind },
      "failed over",
    );
    return next;
  } catch (err) {
    ctx.log.info({ err, status: f.status }, "no other account to fail over to");
    return null;
  }
}

/** The refusal as the control plane penalises it. */
function upstreamFailure(refusal: Refusal, skipMonitoring: boolean) {
  const f = refusal.failure;
  return {
    kind: FAILURE_KINDS[f.kind],
    status: f.status,
    resetAfterMs: f.resetAfterMs,
    message: f.message,
    skipMonitoring,
  };
}

/** Answers the client for the last refusal; returns the status it was given. */
function answerRefusal(
  ctx: RequestContext,
  refusal: Refusal,
  rule: ReturnType<typeof matchPassthroughRule>,
  body: string,
): number {
  const upstreamMessage = refusal.failure.message || `Upstream returned ${refusal.status}`;
  if (rule) {
    const answer = applyPassthroughRule(rule, { status: refusal.status || 502, message: upstreamMessage });
    return sendUpstreamError(ctx, ctx.res, answer.status, {
      error: { type: "upstream_error", message: answer.message, code: null, param: null },
    });
  }
  if (!refusal.failure.failover && refusal.status >= 400) {
    const parsed = parseOpenAIError(body);
    if (parsed) return sendUpstreamError(ctx, ctx.res, refusal.status, parsed);
  }
  const err = exhaustedError(refusal.status, refusal.failure.resetAfterMs);
  sendFailure(ctx.res, ctx.api, err, ctx.model);
  return ctx.res.statusCode;
}

/** The upstream's own error answer (OpenAI shape), passed through with its status, type, code and param. */
function sendUpstreamError(ctx: RequestContext, res: ServerResponse, status: number, body: object): number {
  if (res.headersSent) {
    if (!res.writableEnded) res.end(inBandError(ctx.api, body as OpenAIErrorBody, ctx.model));
    return res.statusCode;
  }
  const bytes = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(bytes),
    "x-request-id": ctx.requestId,
  });
  res.end(bytes);
  return status;
}

function parseOpenAIError(body: string): object | null {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === "object" && value !== null && "error" in value) {
      const error = (value as { error: unknown }).error;
      if (typeof error === "object" && error !== null && "message" in error) return value as object;
    }
  } catch {
    // not JSON: mapped instead
  }
  return null;
}

function refusalOutcome(_refusal: Refusal, status: number): Relayed {
  return {
    kind: "relayed",
    status,
    outcome: Outcome.FAILED_UPSTREAM,
    usage: undefined,
    responseId: "",
    upstreamRequestId: "",
    firstTokenMs: 0,
  };
}

/** Releases the lease with its outcome and reports usage: off the client's path, never awaited by it. */
function settle(
  ctx: RequestContext,
  deps: FailoverDeps,
  lease: Lease,
  result: Relayed,
  failure?: ReturnType<typeof upstreamFailure>,
): void {
  ctx.settled = result;
  const span = ctx.trace.stage("settle");
  if (ctx.timings.upstream !== undefined) {
    deps.metrics.upstreamLatency.get(ctx.api).observe(ctx.timings.upstream / 1000);
  }
  if (result.firstTokenMs > 0) deps.metrics.timeToFirstToken.get(ctx.api).observe(result.firstTokenMs / 1000);
  void release(
    ctx,
    deps,
    lease,
    {
      scope: ReleaseScope.ALL,
      outcome: result.outcome,
      upstreamStatus: result.status,
      responseId: result.responseId,
      ...(failure ? { failure } : {}),
      ...(result.subscriptionUsage ? { subscriptionUsage: result.subscriptionUsage } : {}),
    },
    span,
  );
  const u = result.usage;
  if (u) countTokens(deps.metrics, lease, u);
  if (u?.outOfRange) {
    deps.metrics.usageOutOfRange.inc();
    ctx.log.warn(
      { upstreamRequestId: result.upstreamRequestId },
      "upstream reported token counts out of range",
    );
  }
  deps.usage.report({
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
  });
}

async function release(
  ctx: RequestContext,
  deps: FailoverDeps,
  lease: Lease,
  fields: Omit<Exclude<OperationInit<"release">, { $typeName: string }>, "leaseId">,
  span?: StageSpan,
): Promise<void> {
  try {
    await deps.channel.call(
      "release",
      { leaseId: lease.leaseId, ticket: lease.ticket, ...fields },
      { timeoutMs: 30_000, traceparent: span?.traceparent ?? "" },
    );
    span?.end();
  } catch (err) {
    span?.fail(err);
    ctx.log.warn({ err, leaseId: lease.leaseId }, "release failed; the lease will expire");
  }
}

/** One upstream answer (or none: status 0) for the lease's group and account. */
function countUpstreamResponse(metrics: DataPlaneMetrics, lease: Lease, status: number): void {
  const group = lease.principal?.groupId ?? "";
  const account = lease.target?.accountId ?? "";
  metrics.upstreamResponses.get(group, account, status > 0 ? statusLabel(status) : "none").inc();
}

function countTokens(metrics: DataPlaneMetrics, lease: Lease, usage: TokenUsage): void {
  metrics.countTokens(lease.principal?.groupId ?? "", lease.target?.accountId ?? "", usage);
}
