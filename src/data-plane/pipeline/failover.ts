import type { ServerResponse } from "node:http";
import type { Lease } from "../../gen/switchyard/v1/gateway_pb.js";
import { Outcome } from "../../gen/switchyard/v1/types_pb.js";
import type { OpenAIErrorBody } from "../../shared/errors.js";
import { statusLabel } from "../../shared/telemetry/prometheus.js";
import type { SnapshotWatcher } from "../control/snapshot-watcher.js";
import type { DataPlaneMetrics } from "../metrics.js";
import { exhaustedError } from "../upstream/failure.js";
import { type AttemptDeps, type ClientRequest, type Refusal, type Relayed, runAttempt } from "./attempt.js";
import { inBandError, sendFailure } from "./client-response.js";
import { attemptFailure, type LeaseSession, type LeaseSessionDeps } from "./lease-session.js";
import { applyPassthroughRule, matchPassthroughRule } from "./passthrough-match.js";
import type { RequestContext } from "./request-context.js";

/** What the failover loop needs. */
export interface FailoverDeps extends LeaseSessionDeps {
  snapshots: SnapshotWatcher;
  attempt: AttemptDeps;
}

/**
 * Runs attempts until one answers the client (BEHAVIOUR.md "Failover"): a refusal before the first byte that
 * another account may not repeat moves the lease (reroute: the failed account is penalised and excluded), at most
 * `max_account_switches` times; then the last refusal is answered by passthrough rule, passed through (errors that
 * are the request's own fault), or mapped. The session keeps the lease alive meanwhile and settles it at the end.
 */
export async function runWithFailover(
  ctx: RequestContext,
  deps: FailoverDeps,
  session: LeaseSession,
  request: ClientRequest,
): Promise<void> {
  try {
    for (;;) {
      const result = await runAttempt(ctx, deps.attempt, session.lease, request);
      countUpstreamResponse(deps.metrics, session.lease, result.status);
      if (result.kind === "relayed") return session.settle(result);
      const rules = deps.snapshots.current?.passthroughRules ?? [];
      const body = result.body.toString("utf8");
      const rule = matchPassthroughRule(rules, { status: result.status, body, platform: "openai" });
      const maxSwitches = deps.snapshots.current?.settings?.maxAccountSwitches || 3;
      const skipMonitoring = rule?.skipMonitoring ?? false;
      // A reroute penalises the account it leaves; a refusal that is not rerouted is penalised by the release.
      let penalised = !result.failure.failover || ctx.clientGone.aborted;
      if (result.failure.failover && ctx.failovers < maxSwitches && !ctx.clientGone.aborted) {
        if (await session.reroute(result, skipMonitoring)) continue;
        penalised = true;
      }
      const status = answerRefusal(ctx, result, rule, body);
      return session.settle(
        refusalOutcome(result, status),
        penalised ? undefined : attemptFailure(result, skipMonitoring),
      );
    }
  } finally {
    session.close();
  }
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

/** One upstream answer (or none: status 0) for the lease's group and account. */
function countUpstreamResponse(metrics: DataPlaneMetrics, lease: Lease, status: number): void {
  const group = lease.principal?.groupId ?? "";
  const account = lease.target?.accountId ?? "";
  metrics.upstreamResponses.get(group, account, status > 0 ? statusLabel(status) : "none").inc();
}
