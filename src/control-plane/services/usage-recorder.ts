import { create } from "@bufbuild/protobuf";
import {
  type ReportUsageResponse,
  ReportUsageResponseSchema,
  type UsageReport,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import type { Clock } from "../../shared/clock.js";
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
    private readonly clock: Clock,
    /** Called for each record flagged with out-of-range token counts. */
    private readonly onOutOfRange: () => void = () => {},
  ) {}

  async record(reports: readonly UsageReport[]): Promise<ReportUsageResponse> {
    const inputs: UsageInput[] = [];
    const now = this.clock.now();
    for (const report of reports) {
      const input = toInput(report, now);
      if (input?.usageOutOfRange) this.onOutOfRange();
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

/** More tokens than any one request can use: a count beyond it is an upstream's error, not usage. */
export const MAX_TOKENS_PER_REQUEST = 100_000_000;
/** PostgreSQL's `integer`. */
const MAX_INT = 2_147_483_647;
const MAX_TEXT = 256;
/** Start times further than this from now are not believed (a broken clock or a bad record). */
const MAX_CLOCK_SKEW_MS = 24 * 3_600_000;

function toInput(r: UsageReport, now: number): UsageInput | null {
  const p = r.principal;
  if (!p || r.requestId === "" || !UUID.test(p.userId) || !UUID.test(p.keyId) || !UUID.test(p.groupId))
    return null;
  const accountId = r.accountId === "" ? null : r.accountId;
  if (accountId !== null && !UUID.test(accountId)) return null;
  const counted = tokensOf(r);
  const startedAt = Number(r.startedAtMs);
  return {
    requestId: r.requestId.slice(0, 128),
    leaseId: r.leaseId.slice(0, MAX_TEXT),
    userId: p.userId,
    keyId: p.keyId,
    groupId: p.groupId,
    accountId,
    requestedModel: r.requestedModel.slice(0, MAX_TEXT),
    upstreamModel: (r.upstreamModel || r.requestedModel).slice(0, MAX_TEXT),
    endpoint: ENDPOINTS[r.endpoint] ?? "unspecified",
    stream: r.stream,
    tokens: counted.tokens,
    usageOutOfRange: r.usageOutOfRange || counted.outOfRange,
    clientIp: r.clientIp.slice(0, 64),
    userAgent: r.userAgent.slice(0, MAX_TEXT),
    outcome: OUTCOMES[r.outcome] ?? "completed",
    statusCode: r.statusCode <= 999 ? r.statusCode : 0,
    firstTokenMs: Math.min(r.firstTokenMs, MAX_INT),
    durationMs: Math.min(r.durationMs, MAX_INT),
    failoverCount: Math.min(r.failoverCount, MAX_INT),
    upstreamRequestId: r.upstreamRequestId.slice(0, 200),
    startedAt: Math.abs(startedAt - now) <= MAX_CLOCK_SKEW_MS ? startedAt : now,
  };
}

/**
 * The report's token counts with each one beyond {@link MAX_TOKENS_PER_REQUEST} recorded as 0 (and flagged): the
 * data plane bounds them too, but the ledger must never be handed a value the database or the bill cannot take.
 */
function tokensOf(r: UsageReport): { tokens: UsageInput["tokens"]; outOfRange: boolean } {
  let outOfRange = false;
  const bounded = (value: number | undefined): number => {
    if (value === undefined) return 0;
    if (value <= MAX_TOKENS_PER_REQUEST) return value;
    outOfRange = true;
    return 0;
  };
  const t = r.tokens;
  const tokens = {
    input: bounded(t?.inputTokens),
    cachedInput: bounded(t?.cachedInputTokens),
    output: bounded(t?.outputTokens),
    reasoning: bounded(t?.reasoningTokens),
  };
  return { tokens, outOfRange };
}
