import type { EntityManager } from "@mikro-orm/postgresql";
import { formatUsd, fromNumeric, type PicoUsd } from "../../../shared/money.js";
import { decodeCursor, encodeCursor, type Page, type PageRequest, resolvePageSize } from "./pagination.js";
import { invalid, optionalId, validDate } from "./validation.js";

/** One admitted request's usage and cost, as stored. `endpoint` and `outcome` are the stored snake_case names. */
export interface UsageRecordView {
  requestId: string;
  userId: string;
  keyId: string;
  groupId: string;
  accountId: string | null;
  requestedModel: string;
  upstreamModel: string;
  /** "responses" | "chat_completions". */
  endpoint: string;
  stream: boolean;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  inputCostUsd: PicoUsd;
  cachedInputCostUsd: PicoUsd;
  outputCostUsd: PicoUsd;
  /** Decimal string without trailing zeros. */
  rateMultiplier: string;
  totalCostUsd: PicoUsd;
  /** "completed" | "incomplete" | "failed_upstream" | "client_aborted" | "truncated" | "abandoned". */
  outcome: string;
  statusCode: number;
  firstTokenMs: number;
  durationMs: number;
  failoverCount: number;
  upstreamRequestId: string;
  /** A token count the upstream reported was out of range and recorded as 0. */
  usageOutOfRange: boolean;
  /** The client's address and User-Agent; "" when unknown. */
  clientIp: string;
  userAgent: string;
  createdAt: Date;
}

/** A time range: start inclusive, end exclusive; either may be absent. */
export interface TimeRange {
  start?: Date;
  end?: Date;
}

/** ListUsage's filters. */
export interface UsageFilter extends TimeRange, PageRequest {
  userId?: string;
  keyId?: string;
  accountId?: string;
}

/** What SummarizeUsage groups by. */
export type UsageGrouping = "model" | "account" | "key" | "user";

/** One aggregate row; counts are bigints (the proto's uint64). */
export interface UsageSummaryRow {
  key: string;
  requests: bigint;
  inputTokens: bigint;
  cachedInputTokens: bigint;
  outputTokens: bigint;
  reasoningTokens: bigint;
  totalCostUsd: PicoUsd;
}

interface Where {
  sql: string[];
  params: unknown[];
}

/** Filters shared by list and summary; ids are checked first so Postgres never sees a malformed uuid. */
function baseWhere(filter: UsageFilter): Where {
  const where: Where = { sql: [], params: [] };
  const add = (sql: string, value: unknown) => {
    where.sql.push(sql);
    where.params.push(value);
  };
  const userId = optionalId(filter.userId, "user_id");
  const keyId = optionalId(filter.keyId, "key_id");
  const accountId = optionalId(filter.accountId, "account_id");
  if (userId !== undefined) add("user_id = ?", userId);
  if (keyId !== undefined) add("key_id = ?", keyId);
  if (accountId !== undefined) add("account_id = ?", accountId);
  const start = filter.start && validDate(filter.start, "start_time");
  const end = filter.end && validDate(filter.end, "end_time");
  if (start && end && end <= start) throw invalid("end_time", "must be after start_time");
  if (start) add("created_at >= ?", start);
  if (end) add("created_at < ?", end);
  return where;
}

const whereClause = (w: Where) => (w.sql.length === 0 ? "" : `where ${w.sql.join(" and ")}`);

type UsageRow = Record<string, string | number | boolean | Date | null>;

function toView(r: UsageRow): UsageRecordView {
  const text = (k: string) => String(r[k] ?? "");
  const int = (k: string) => Number(r[k] ?? 0);
  const money = (k: string) => fromNumeric(text(k));
  return {
    requestId: text("request_id"),
    userId: text("user_id"),
    keyId: text("key_id"),
    groupId: text("group_id"),
    accountId: r.account_id === null ? null : text("account_id"),
    requestedModel: text("requested_model"),
    upstreamModel: text("upstream_model"),
    endpoint: text("endpoint"),
    stream: r.stream === true,
    inputTokens: int("input_tokens"),
    cachedInputTokens: int("cached_input_tokens"),
    outputTokens: int("output_tokens"),
    reasoningTokens: int("reasoning_tokens"),
    inputCostUsd: money("input_cost_usd"),
    cachedInputCostUsd: money("cached_input_cost_usd"),
    outputCostUsd: money("output_cost_usd"),
    rateMultiplier: formatUsd(money("rate_multiplier")),
    totalCostUsd: money("total_cost_usd"),
    outcome: text("outcome"),
    statusCode: int("status_code"),
    firstTokenMs: int("first_token_ms"),
    durationMs: int("duration_ms"),
    failoverCount: int("failover_count"),
    upstreamRequestId: text("upstream_request_id"),
    usageOutOfRange: r.usage_out_of_range === true,
    clientIp: text("client_ip"),
    userAgent: text("user_agent"),
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(text("created_at")),
  };
}

/**
 * Usage records newest first. The page token carries the last row's `created_at` in epoch microseconds (exact in
 * SQL, whatever precision the writer used) and its request id, so rows sharing an instant are neither skipped nor
 * repeated.
 */
export async function listUsage(em: EntityManager, filter: UsageFilter): Promise<Page<UsageRecordView>> {
  const size = resolvePageSize(filter.pageSize);
  const cursor = decodeCursor(filter.pageToken, ["int", "text"] as const);
  const where = baseWhere(filter);
  if (cursor) {
    where.sql.push(
      "(created_at, request_id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?)",
    );
    where.params.push(cursor[0], cursor[1]);
  }
  const rows = await em
    .fork()
    .getConnection()
    .execute<UsageRow[]>(
      `select *, (extract(epoch from created_at) * 1000000)::bigint as cursor_us
     from usage_records ${whereClause(where)}
     order by created_at desc, request_id desc
     limit ?`,
      [...where.params, size + 1],
    );
  const kept = rows.slice(0, size);
  const last = kept[kept.length - 1];
  return {
    items: kept.map(toView),
    nextPageToken:
      rows.length > size && last ? encodeCursor([Number(last.cursor_us), String(last.request_id)]) : "",
  };
}

const GROUP_KEYS: Record<UsageGrouping, string> = {
  model: "requested_model",
  account: "coalesce(account_id::text, '')",
  key: "key_id::text",
  user: "user_id::text",
};

/** Aggregates usage over a time range (optionally of one user), one row per key, by cost descending. */
export async function summarizeUsage(
  em: EntityManager,
  by: UsageGrouping,
  filter: TimeRange & { userId?: string },
): Promise<UsageSummaryRow[]> {
  const where = baseWhere(filter);
  const rows = await em
    .fork()
    .getConnection()
    .execute<Record<string, string>[]>(
      `select ${GROUP_KEYS[by]} as key, count(*)::text as requests,
       coalesce(sum(input_tokens), 0)::text as input_tokens,
       coalesce(sum(cached_input_tokens), 0)::text as cached_input_tokens,
       coalesce(sum(output_tokens), 0)::text as output_tokens,
       coalesce(sum(reasoning_tokens), 0)::text as reasoning_tokens,
       coalesce(sum(total_cost_usd), 0)::text as total_cost_usd
     from usage_records ${whereClause(where)}
     group by 1
     order by sum(total_cost_usd) desc, 1 asc`,
      where.params,
    );
  return rows.map((r) => ({
    key: r.key ?? "",
    requests: BigInt(r.requests ?? "0"),
    inputTokens: BigInt(r.input_tokens ?? "0"),
    cachedInputTokens: BigInt(r.cached_input_tokens ?? "0"),
    outputTokens: BigInt(r.output_tokens ?? "0"),
    reasoningTokens: BigInt(r.reasoning_tokens ?? "0"),
    totalCostUsd: fromNumeric(r.total_cost_usd ?? "0"),
  }));
}

/** Usage queries bound to an entity manager, for the catalog object. */
export class UsageQueries {
  constructor(private readonly em: EntityManager) {}

  /** See {@link listUsage}. */
  list(filter: UsageFilter): Promise<Page<UsageRecordView>> {
    return listUsage(this.em, filter);
  }

  /** See {@link summarizeUsage}. */
  summarize(by: UsageGrouping, filter: TimeRange & { userId?: string }): Promise<UsageSummaryRow[]> {
    return summarizeUsage(this.em, by, filter);
  }
}
