import { create } from "@bufbuild/protobuf";
import {
  type ReportUsageResponse,
  ReportUsageResponseSchema,
  type UsageReport,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import type { Logger } from "../../shared/logger.js";
import type { UsageInput, UsageLedger, UsageOutcome } from "../domain/billing/usage-ledger.js";

const OUTCOMES: Record<Outcome, UsageOutcome> = {
  [Outcome.UNSPECIFIED]: "completed",
  [Outcome.COMPLETED]: "completed",
  [Outcome.INCOMPLETE]: "incomplete",
  [Outcome.FAILED_UPSTREAM]: "failed_upstream",
  [Outcome.CLIENT_ABORTED]: "client_aborted",
  [Outcome.TRUNCATED]: "truncated",
  [Outcome.ABANDONED]: "abandoned",
};

const ENDPOINTS: Record<Endpoint, UsageInput["endpoint"]> = {
  [Endpoint.UNSPECIFIED]: "unspecified",
  [Endpoint.RESPONSES]: "responses",
  [Endpoint.CHAT_COMPLETIONS]: "chat_completions",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Translates usage reports into ledger entries; a malformed report is logged and skipped, never retried forever. */
export class UsageRecorder {
  constructor(
    private readonly ledger: UsageLedger,
    private readonly log: Logger,
  ) {}

  async record(reports: readonly UsageReport[]): Promise<ReportUsageResponse> {
    const inputs: UsageInput[] = [];
    for (const report of reports) {
      const input = toInput(report);
      if (input) inputs.push(input);
      else this.log.warn({ requestId: report.requestId }, "malformed usage report skipped");
    }
    const result = await this.ledger.record(inputs);
    return create(ReportUsageResponseSchema, {
      recorded: result.recorded,
      duplicates: result.duplicates + (reports.length - inputs.length),
    });
  }
}

function toInput(r: UsageReport): UsageInput | null {
  const p = r.principal;
  if (!p || r.requestId === "" || !UUID.test(p.userId) || !UUID.test(p.keyId) || !UUID.test(p.groupId))
    return null;
  const accountId = r.accountId === "" ? null : r.accountId;
  if (accountId !== null && !UUID.test(accountId)) return null;
  const t = r.tokens;
  return {
    requestId: r.requestId.slice(0, 128),
    leaseId: r.leaseId,
    userId: p.userId,
    keyId: p.keyId,
    groupId: p.groupId,
    accountId,
    requestedModel: r.requestedModel,
    upstreamModel: r.upstreamModel || r.requestedModel,
    endpoint: ENDPOINTS[r.endpoint] ?? "unspecified",
    stream: r.stream,
    tokens: {
      input: t?.inputTokens ?? 0,
      cachedInput: t?.cachedInputTokens ?? 0,
      output: t?.outputTokens ?? 0,
      reasoning: t?.reasoningTokens ?? 0,
    },
    outcome: OUTCOMES[r.outcome] ?? "completed",
    statusCode: r.statusCode,
    firstTokenMs: r.firstTokenMs,
    durationMs: r.durationMs,
    failoverCount: r.failoverCount,
    upstreamRequestId: r.upstreamRequestId.slice(0, 200),
    startedAt: Number(r.startedAtMs) || Date.now(),
  };
}
