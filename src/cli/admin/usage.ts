import { create } from "@bufbuild/protobuf";
import {
  ListUsageResponseSchema,
  SummarizeUsageResponseSchema,
  UsageGroupBy,
  type UsageRecord,
  type UsageSummaryRow,
} from "../../gen/switchyard/v1/admin_pb.js";
import { Outcome } from "../../gen/switchyard/v1/types_pb.js";
import { type AdminCommand, VALUE } from "./command.js";
import { type Column, emit, label, table, usd, when } from "./output.js";
import { collectPages, limitFlag } from "./pages.js";
import { resolveOptionalUserId } from "./user-ref.js";

/** Usage grows without bound, so unlike other lists `usage list` stops at this many records unless told. */
const DEFAULT_USAGE_LIMIT = 100;

const GROUP_BY = {
  model: UsageGroupBy.MODEL,
  account: UsageGroupBy.ACCOUNT,
  key: UsageGroupBy.KEY,
  user: UsageGroupBy.USER,
} as const;

const RECORD_COLUMNS: readonly Column<UsageRecord>[] = [
  ["TIME", (r) => when(r.createTime)],
  ["REQUEST", (r) => r.requestId],
  ["USER", (r) => r.userId],
  ["KEY", (r) => r.keyId],
  [
    "MODEL",
    (r) =>
      r.upstreamModel && r.upstreamModel !== r.requestedModel
        ? `${r.requestedModel} → ${r.upstreamModel}`
        : r.requestedModel,
  ],
  [
    "IN/CACHED/OUT",
    (r) => `${r.tokens?.inputTokens ?? 0}/${r.tokens?.cachedInputTokens ?? 0}/${r.tokens?.outputTokens ?? 0}`,
  ],
  ["COST", (r) => usd(r.totalCostUsd)],
  ["OUTCOME", (r) => label(Outcome, r.outcome)],
  ["STATUS", (r) => String(r.statusCode)],
  ["MS", (r) => String(r.durationMs)],
  ["CLIENT IP", (r) => r.clientIp || "-"],
  ["USER AGENT", (r) => r.userAgent || "-"],
];

const SUMMARY_COLUMNS: readonly Column<UsageSummaryRow>[] = [
  ["KEY", (r) => r.key || "-"],
  ["REQUESTS", (r) => String(r.requests)],
  ["INPUT", (r) => String(r.inputTokens)],
  ["CACHED", (r) => String(r.cachedInputTokens)],
  ["OUTPUT", (r) => String(r.outputTokens)],
  ["REASONING", (r) => String(r.reasoningTokens)],
  ["CACHE HIT", (r) => (r.inputTokens > 0n ? `${(r.cacheHitRatio * 100).toFixed(1)}%` : "-")],
  ["COST", (r) => usd(r.totalCostUsd)],
];

const TIME_NOTE =
  "--since/--until take ISO 8601 (2025-07-01, 2025-07-01T12:00:00Z) or a duration ago (24h, 7d)";

/** `admin usage …`: what admitted requests used and cost. */
export const usageCommands: readonly AdminCommand[] = [
  {
    name: "usage list",
    synopsis: "[--user NAME|ID] [--key ID] [--account ID] [--since ISO] [--until ISO] [--limit N]",
    summary: "list usage records, newest first",
    notes: [TIME_NOTE, `--limit N: at most N records (default ${DEFAULT_USAGE_LIMIT}; 0 for all)`],
    flags: { user: VALUE, key: VALUE, account: VALUE, since: VALUE, until: VALUE, limit: VALUE },
    prepare(input) {
      const user = input.text("user") ?? "";
      const filter = {
        keyId: input.text("key") ?? "",
        accountId: input.text("account") ?? "",
        startTime: input.time("since", "past"),
        endTime: input.time("until", "past"),
      };
      const limit = limitFlag(input, DEFAULT_USAGE_LIMIT);
      return async ({ client, out }) => {
        const userId = await resolveOptionalUserId(client, user);
        const page = await collectPages(limit, async (pageSize, pageToken) => {
          const res = await client.listUsage({ ...filter, userId, pageSize, pageToken });
          return { items: res.records, nextPageToken: res.nextPageToken };
        });
        const res = create(ListUsageResponseSchema, {
          records: page.items,
          nextPageToken: page.nextPageToken,
        });
        emit(out, ListUsageResponseSchema, res, () => table(res.records, RECORD_COLUMNS, "no usage records"));
      };
    },
  },
  {
    name: "usage summary",
    synopsis: "[--user NAME|ID] [--group-by model|account|key|user] [--since ISO] [--until ISO]",
    summary: "total requests, tokens and cost per model (or account, key, user), by cost",
    notes: [TIME_NOTE],
    flags: { user: VALUE, "group-by": VALUE, since: VALUE, until: VALUE },
    prepare(input) {
      const user = input.text("user") ?? "";
      const request = {
        groupBy: input.choice("group-by", GROUP_BY) ?? UsageGroupBy.MODEL,
        startTime: input.time("since", "past"),
        endTime: input.time("until", "past"),
      };
      return async ({ client, out }) => {
        const res = await client.summarizeUsage({
          ...request,
          userId: await resolveOptionalUserId(client, user),
        });
        emit(out, SummarizeUsageResponseSchema, res, () => table(res.rows, SUMMARY_COLUMNS, "no usage"));
      };
    },
  },
];
