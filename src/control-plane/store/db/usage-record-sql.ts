import type { EntityManager } from "@mikro-orm/postgresql";
import { toNumeric } from "../../../shared/money.js";
import type { Cost } from "../../domain/billing/cost.js";
import type { UsageInput } from "../../domain/billing/usage-ledger.js";

/** A group's billing terms as the ledger applies them. */
export interface GroupTerms {
  rateMultiplier: string;
  billingMode: "balance" | "subscription";
}

/** What writing one record did: nothing (a duplicate), or inserted / replaced an abandoned record, and under which
 * subscription it counts. */
export type WriteResult =
  | { written: false }
  | { written: true; replaced: boolean; subscriptionId: string | null };

/** Measurements a real report brings to an `abandoned` record it replaces (identity stays the lease's). */
const REPLACED_COLUMNS = [
  "account_id",
  "requested_model",
  "upstream_model",
  "endpoint",
  "stream",
  "input_tokens",
  "cached_input_tokens",
  "output_tokens",
  "reasoning_tokens",
  "input_cost_usd",
  "cached_input_cost_usd",
  "output_cost_usd",
  "rate_multiplier",
  "total_cost_usd",
  "outcome",
  "status_code",
  "first_token_ms",
  "duration_ms",
  "failover_count",
  "upstream_request_id",
  "usage_out_of_range",
  "client_ip",
  "user_agent",
];

/** A record to write with its group's terms and its cost. */
export interface UsageRow {
  readonly input: UsageInput;
  readonly terms: GroupTerms;
  readonly cost: Cost;
}

/** The columns of a usage record, in the order of {@link rowValues}. */
const COLUMNS = `request_id, lease_id, user_id, key_id, group_id, account_id, subscription_id, requested_model,
  upstream_model, endpoint, stream, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
  input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier, total_cost_usd, outcome, status_code,
  first_token_ms, duration_ms, failover_count, upstream_request_id, usage_out_of_range, client_ip, user_agent,
  created_at`;

/** One row's placeholders; the subscription is the user's active one in the group when the request started. */
const ROW_PLACEHOLDERS = `(?, ?, ?, ?, ?, ?,
    (select s.id from subscriptions s where s.user_id = ? and s.group_id = ? and s.status = 'active'
       and s.starts_at <= ? and s.expires_at > ? order by s.expires_at desc limit 1),
    ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Rows per insert statement (33 parameters each; PostgreSQL takes 65,535 per statement). */
const ROWS_PER_STATEMENT = 500;

/**
 * Inserts requests' records; a request id already recorded is left alone unless its record is `abandoned` (its
 * lease expired while the data plane could not reach the control plane) and this one is not — the real report then
 * replaces it (DESIGN.md §5). An abandoned record costs nothing, so billing the replacement bills the request once.
 */
const insertSql = (rows: number) => `insert into usage_records (${COLUMNS})
  values ${Array(rows).fill(ROW_PLACEHOLDERS).join(", ")}
  on conflict (request_id) do update set ${REPLACED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")}
    where usage_records.outcome = 'abandoned' and excluded.outcome <> 'abandoned'
  returning request_id, subscription_id, (xmax <> 0) as replaced`;

function rowValues({ input: u, terms, cost }: UsageRow): unknown[] {
  const at = new Date(u.startedAt);
  const subscription = terms.billingMode === "subscription";
  return [
    u.requestId,
    u.leaseId,
    u.userId,
    u.keyId,
    u.groupId,
    u.accountId,
    subscription ? u.userId : null,
    u.groupId,
    at,
    at,
    u.requestedModel,
    u.upstreamModel,
    u.endpoint,
    u.stream,
    u.tokens.input,
    u.tokens.cachedInput,
    u.tokens.output,
    u.tokens.reasoning,
    toNumeric(cost.input),
    toNumeric(cost.cachedInput),
    toNumeric(cost.output),
    terms.rateMultiplier,
    toNumeric(cost.total),
    u.outcome,
    u.statusCode,
    u.firstTokenMs,
    u.durationMs,
    u.failoverCount,
    u.upstreamRequestId,
    u.usageOutOfRange,
    u.clientIp,
    u.userAgent,
    at,
  ];
}

/**
 * Writes records in the transaction of `em` (statement "usage.insert"), as few statements as it takes: what each
 * write did, in the order of `rows`. One statement cannot touch a request id twice, so a repeated id goes to a later
 * statement (in order: a real report after an abandoned one still replaces it).
 */
export async function writeUsageRecords(
  em: EntityManager,
  rows: readonly UsageRow[],
): Promise<WriteResult[]> {
  const results: WriteResult[] = rows.map(() => ({ written: false }));
  let pending = rows.map((row, index) => ({ row, index }));
  while (pending.length > 0) {
    const seen = new Set<string>();
    const now: typeof pending = [];
    const later: typeof pending = [];
    for (const item of pending) {
      const id = item.row.input.requestId;
      if (seen.has(id) || now.length >= ROWS_PER_STATEMENT) later.push(item);
      else {
        seen.add(id);
        now.push(item);
      }
    }
    const written = await em
      .getConnection()
      .execute<{ request_id: string; subscription_id: string | null; replaced: boolean }[]>(
        insertSql(now.length),
        now.flatMap(({ row }) => rowValues(row)),
        "all",
        em.getTransactionContext(),
      );
    const byId = new Map(written.map((r) => [r.request_id, r]));
    for (const { row, index } of now) {
      const r = byId.get(row.input.requestId);
      if (r)
        results[index] = { written: true, replaced: r.replaced === true, subscriptionId: r.subscription_id };
    }
    pending = later;
  }
  return results;
}

/**
 * Moves the money for written records (statement "usage.bill"): balances (balance groups) and key quotas, summed per
 * user and per key into one statement each, rows locked in id order (so concurrent batches cannot deadlock).
 */
export async function applyCosts(em: EntityManager, written: readonly UsageRow[]): Promise<void> {
  const balances = new Map<string, bigint>();
  const quotas = new Map<string, bigint>();
  for (const { input, terms, cost } of written) {
    if (cost.total === 0n) continue;
    if (terms.billingMode === "balance")
      balances.set(input.userId, (balances.get(input.userId) ?? 0n) + cost.total);
    quotas.set(input.keyId, (quotas.get(input.keyId) ?? 0n) + cost.total);
  }
  await addTo(em, "users", "balance_usd = t.balance_usd - v.amount", balances);
  await addTo(em, "api_keys", "quota_used_usd = t.quota_used_usd + v.amount", quotas);
}

async function addTo(
  em: EntityManager,
  table: "users" | "api_keys",
  assignment: string,
  amounts: ReadonlyMap<string, bigint>,
): Promise<void> {
  if (amounts.size === 0) return;
  const ids = [...amounts.keys()].sort();
  await em.getConnection().execute(
    `update ${table} as t set ${assignment}, updated_at = now()
      from (values ${ids.map(() => "(?::uuid, ?::numeric)").join(", ")}) as v(id, amount)
      where t.id = v.id`,
    ids.flatMap((id) => [id, toNumeric(amounts.get(id) ?? 0n)]),
    "run",
    em.getTransactionContext(),
  );
}
