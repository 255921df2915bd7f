import { create } from "@bufbuild/protobuf";
import {
  type Subscription,
  SubscriptionSchema,
  SubscriptionStatus,
  UsageGroupBy,
  type UsageRecord,
  UsageRecordSchema,
  type UsageSeriesPoint,
  UsageSeriesPointSchema,
  type UsageSummaryRow,
  UsageSummaryRowSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import { formatUsd } from "../../shared/money.js";
import type {
  UsageSeriesPoint as DomainSeriesPoint,
  SubscriptionStatus as DomainSubscriptionStatus,
  UsageSummaryRow as DomainSummaryRow,
  SubscriptionRecord,
  UsageGrouping,
  UsageRecordView,
} from "../domain/catalog/index.js";
import { EnumMapping, toTimestamp } from "./admin-mappers.js";

/** Proto ⇄ catalog translation for subscriptions and usage. */

/** SubscriptionStatus ⇄ the catalog's subscription status. */
export const subscriptionStatuses = new EnumMapping<SubscriptionStatus, DomainSubscriptionStatus>([
  [SubscriptionStatus.ACTIVE, "active"],
  [SubscriptionStatus.CANCELLED, "cancelled"],
]);

/** UsageGroupBy ⇄ the catalog's grouping. */
export const usageGroupings = new EnumMapping<UsageGroupBy, UsageGrouping>([
  [UsageGroupBy.MODEL, "model"],
  [UsageGroupBy.ACCOUNT, "account"],
  [UsageGroupBy.KEY, "key"],
  [UsageGroupBy.USER, "user"],
]);

/** Stored endpoint names (snake_case of the proto's) → proto; anything else is UNSPECIFIED. */
const ENDPOINTS: Readonly<Record<string, Endpoint>> = {
  responses: Endpoint.RESPONSES,
  chat_completions: Endpoint.CHAT_COMPLETIONS,
};

/** Stored outcome names (snake_case of the proto's) → proto; anything else is UNSPECIFIED. */
const OUTCOMES: Readonly<Record<string, Outcome>> = {
  completed: Outcome.COMPLETED,
  incomplete: Outcome.INCOMPLETE,
  failed_upstream: Outcome.FAILED_UPSTREAM,
  client_aborted: Outcome.CLIENT_ABORTED,
  truncated: Outcome.TRUNCATED,
  abandoned: Outcome.ABANDONED,
};

/** A subscription record, with its window usage, as the proto Subscription. */
export function subscriptionToProto(s: SubscriptionRecord): Subscription {
  return create(SubscriptionSchema, {
    id: s.id,
    userId: s.userId,
    groupId: s.groupId,
    status: subscriptionStatuses.proto(s.status),
    startTime: toTimestamp(s.startsAt),
    expireTime: toTimestamp(s.expiresAt),
    dailyUsedUsd: formatUsd(s.usage.dailyUsd),
    weeklyUsedUsd: formatUsd(s.usage.weeklyUsd),
    monthlyUsedUsd: formatUsd(s.usage.monthlyUsd),
    createTime: toTimestamp(s.createdAt),
  });
}

/** A stored usage record as the proto UsageRecord; unknown endpoint/outcome names map to UNSPECIFIED. */
export function usageRecordToProto(r: UsageRecordView): UsageRecord {
  return create(UsageRecordSchema, {
    requestId: r.requestId,
    userId: r.userId,
    keyId: r.keyId,
    groupId: r.groupId,
    accountId: r.accountId ?? "",
    requestedModel: r.requestedModel,
    upstreamModel: r.upstreamModel,
    endpoint: ENDPOINTS[r.endpoint] ?? Endpoint.UNSPECIFIED,
    stream: r.stream,
    tokens: {
      inputTokens: r.inputTokens,
      cachedInputTokens: r.cachedInputTokens,
      outputTokens: r.outputTokens,
      reasoningTokens: r.reasoningTokens,
    },
    inputCostUsd: formatUsd(r.inputCostUsd),
    cachedInputCostUsd: formatUsd(r.cachedInputCostUsd),
    outputCostUsd: formatUsd(r.outputCostUsd),
    rateMultiplier: r.rateMultiplier,
    totalCostUsd: formatUsd(r.totalCostUsd),
    outcome: OUTCOMES[r.outcome] ?? Outcome.UNSPECIFIED,
    statusCode: r.statusCode,
    firstTokenMs: r.firstTokenMs,
    durationMs: r.durationMs,
    failoverCount: r.failoverCount,
    upstreamRequestId: r.upstreamRequestId,
    usageOutOfRange: r.usageOutOfRange,
    clientIp: r.clientIp,
    userAgent: r.userAgent,
    createTime: toTimestamp(r.createdAt),
  });
}

/** An aggregate row as the proto UsageSummaryRow. */
export function usageSummaryRowToProto(r: DomainSummaryRow): UsageSummaryRow {
  return create(UsageSummaryRowSchema, {
    key: r.key,
    requests: r.requests,
    inputTokens: r.inputTokens,
    cachedInputTokens: r.cachedInputTokens,
    outputTokens: r.outputTokens,
    reasoningTokens: r.reasoningTokens,
    totalCostUsd: formatUsd(r.totalCostUsd),
    cacheHitRatio: r.inputTokens > 0n ? Number(r.cachedInputTokens) / Number(r.inputTokens) : 0,
  });
}

/** A usage series point, domain to proto. */
export function usageSeriesPointToProto(p: DomainSeriesPoint): UsageSeriesPoint {
  return create(UsageSeriesPointSchema, {
    bucketStartTime: toTimestamp(p.bucketStart),
    requests: p.requests,
    inputTokens: p.inputTokens,
    cachedInputTokens: p.cachedInputTokens,
    outputTokens: p.outputTokens,
    totalCostUsd: formatUsd(p.totalCostUsd),
    failedRequests: p.failedRequests,
  });
}
