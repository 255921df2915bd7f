import { create } from "@bufbuild/protobuf";
import {
  PrincipalSchema,
  type ReportUsageResponse,
  ReportUsageResponseSchema,
  type UsageReport,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import type { Clock } from "../../shared/clock.js";
import type { Logger } from "../../shared/logger.js";
import type { LeaseTickets } from "../domain/admission/lease-ticket.js";
import { UsageBatch } from "../domain/billing/usage-batch.js";
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

/** Dependencies of {@link UsageRecorder}. */
export interface UsageRecorderDeps {
  ledger: UsageLedger;
  /** Opens the lease tickets reports carry: the identity billed comes from them. */
  tickets: LeaseTickets;
  log: Logger;
  clock: Clock;
  /** Called for each record flagged with out-of-range token counts. */
  onOutOfRange?: () => void;
}

/**
 * Translates usage reports into ledger entries; a malformed report is logged and skipped, never retried forever.
 * Who is billed, on which account and for which upstream model comes from the lease's ticket (sealed by the control
 * plane), so a data plane cannot bill one user's request to another; a report without a ticket (a data plane of an
 * earlier release) is read as sent.
 */
export class UsageRecorder {
  readonly #deps: UsageRecorderDeps;
  /** Records carried by releases, written together. */
  readonly #carried: UsageBatch;

  constructor(deps: UsageRecorderDeps) {
    this.#deps = deps;
    this.#carried = new UsageBatch({ ledger: deps.ledger, log: deps.log });
  }

  async record(reports: readonly UsageReport[]): Promise<ReportUsageResponse> {
    const now = this.#deps.clock.now();
    const inputs = reports.flatMap((report) => this.#input(report, now) ?? []);
    const result = await this.#deps.ledger.record(inputs);
    return create(ReportUsageResponseSchema, {
      recorded: result.recorded,
      duplicates: result.duplicates + (reports.length - inputs.length),
    });
  }

  /**
   * One record carried by its lease's release: true once written (or found written before, or skipped as malformed:
   * it never will be), false when the ledger could not write it now (its data plane sends it again).
   */
  recordCarried(report: UsageReport): Promise<boolean> {
    const input = this.#input(report, this.#deps.clock.now());
    return input ? this.#carried.add(input) : Promise.resolve(true);
  }

  /** The ledger entry of a report (counted when out of range); null, logged, for a malformed one. */
  #input(report: UsageReport, now: number): UsageInput | null {
    const input = toInput(this.#vouched(report), now);
    if (!input) this.#deps.log.warn({ requestId: report.requestId }, "malformed usage report skipped");
    else if (input.usageOutOfRange) this.#deps.onOutOfRange?.();
    return input;
  }

  /** Writes the carried records still queued (shutdown). */
  flush(timeoutMs: number): Promise<void> {
    return this.#carried.flush(timeoutMs);
  }

  /** The report with its identity taken from its lease ticket; null when the ticket does not open. */
  #vouched(report: UsageReport): UsageReport | null {
    if (report.leaseTicket.length === 0) return report;
    const lease = this.#deps.tickets.open(report.leaseTicket, report.leaseId, 0, { lastUse: true });
    if (!lease || lease.requestId !== report.requestId) return null;
    return {
      ...report,
      principal: create(PrincipalSchema, {
        userId: lease.userId,
        keyId: lease.keyId,
        groupId: lease.groupId,
      }),
      accountId: lease.accountId ?? "",
      upstreamModel: lease.upstreamModel,
    };
  }
}

/** More tokens than any one request can use: a count beyond it is an upstream's error, not usage. */
export const MAX_TOKENS_PER_REQUEST = 100_000_000;
/** PostgreSQL's `integer`. */
const MAX_INT = 2_147_483_647;
const MAX_TEXT = 256;
/** Start times further than this from now are not believed (a broken clock or a bad record). */
const MAX_CLOCK_SKEW_MS = 24 * 3_600_000;

function toInput(r: UsageReport | null, now: number): UsageInput | null {
  if (r === null) return null;
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
