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

/**
 * Inserts a request's record; a request id already recorded is left alone unless its record is `abandoned` (its
 * lease expired while the data plane could not reach the control plane) and this one is not — the real report then
 * replaces it (DESIGN.md §5). An abandoned record costs nothing, so billing the replacement bills the request once.
 */
const INSERT_SQL = `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, account_id,
  subscription_id, requested_model, upstream_model, endpoint, stream, input_tokens, cached_input_tokens,
  output_tokens, reasoning_tokens, input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier,
  total_cost_usd, outcome, status_code, first_token_ms, duration_ms, failover_count, upstream_request_id,
  usage_out_of_range, client_ip, user_agent, created_at)
  values (?, ?, ?, ?, ?, ?,
    (select s.id from subscriptions s where s.user_id = ? and s.group_id = ? and s.status = 'active'
       and s.starts_at <= ? and s.expires_at > ? order by s.expires_at desc limit 1),
    ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (request_id) do update set ${REPLACED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")}
    where usage_records.outcome = 'abandoned' and excluded.outcome <> 'abandoned'
  returning subscription_id, (xmax <> 0) as replaced`;

/** Writes one record in the transaction of `em` (statement "usage.insert"). */
export async function writeUsageRecord(
  em: EntityManager,
  u: UsageInput,
  terms: GroupTerms,
  cost: Cost,
): Promise<WriteResult> {
  const at = new Date(u.startedAt);
  const subscription = terms.billingMode === "subscription";
  const rows = await em
    .getConnection()
    .execute<{ subscription_id: string | null; replaced: boolean }[]>(
      INSERT_SQL,
      [
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
      ],
      "all",
      em.getTransactionContext(),
    );
  const row = rows[0];
  if (!row) return { written: false };
  return { written: true, replaced: row.replaced === true, subscriptionId: row.subscription_id };
}

/** Moves the money for a written record (statement "usage.bill"): balance (balance groups) and key quota. */
export async function applyCost(
  em: EntityManager,
  u: UsageInput,
  terms: GroupTerms,
  cost: Cost,
): Promise<void> {
  if (cost.total === 0n) return;
  const amount = toNumeric(cost.total);
  const connection = em.getConnection();
  const tx = em.getTransactionContext();
  if (terms.billingMode === "balance") {
    await connection.execute(
      "update users set balance_usd = balance_usd - ?::numeric, updated_at = now() where id = ?",
      [amount, u.userId],
      "run",
      tx,
    );
  }
  await connection.execute(
    "update api_keys set quota_used_usd = quota_used_usd + ?::numeric, updated_at = now() where id = ?",
    [amount, u.keyId],
    "run",
    tx,
  );
}
