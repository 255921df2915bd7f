import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { fromNumeric, toNumeric } from "../../../shared/money.js";
import { type Cost, computeCost, lookupPrice, type Price } from "../../domain/billing/cost.js";
import type { LedgerResult, UsageInput, UsageLedger } from "../../domain/billing/usage-ledger.js";
import type { ChangeFeed } from "../../domain/change-feed.js";

const CACHE_MAX_AGE_MS = 10_000;

interface GroupTerms {
  rateMultiplier: string;
  billingMode: "balance" | "subscription";
}

/** Called for usage of a model without a price (cost 0): a warning log and a metric, never a failed request. */
export type UnpricedModelListener = (model: string) => void;

/**
 * The usage ledger on PostgreSQL. One transaction per batch: each record is inserted with ON CONFLICT DO NOTHING
 * on its request id, and only a record actually inserted moves money (user balance for balance groups, key quota
 * for all). Prices and group terms are cached briefly and dropped on change. After the commit it announces each
 * billed user and key once per batch (`user` and `api_key` changes), so every replica's eligibility cache drops them
 * and the next admit sees the new balance, quota or subscription usage.
 */
export class PostgresUsageLedger implements UsageLedger {
  readonly #orm: MikroORM;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #feed: ChangeFeed;
  readonly #onUnpriced: UnpricedModelListener;
  #prices: { map: Map<string, Price>; at: number } | null = null;
  #groups: { map: Map<string, GroupTerms>; at: number } | null = null;

  constructor(deps: {
    orm: MikroORM;
    feed: ChangeFeed;
    clock: Clock;
    log: Logger;
    onUnpriced?: UnpricedModelListener;
  }) {
    this.#orm = deps.orm;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#feed = deps.feed;
    this.#onUnpriced = deps.onUnpriced ?? (() => {});
    deps.feed.subscribe((change) => {
      if (change.kind === "model_price") this.#prices = null;
      if (change.kind === "group") this.#groups = null;
    });
  }

  async record(inputs: readonly UsageInput[]): Promise<LedgerResult> {
    if (inputs.length === 0) return { recorded: 0, duplicates: 0 };
    const [prices, groups] = await Promise.all([this.#priceMap(), this.#groupMap()]);
    const priced = inputs.map((input) => {
      const terms = groups.get(input.groupId) ?? { rateMultiplier: "1", billingMode: "balance" as const };
      const price = lookupPrice(prices, input.upstreamModel);
      const unpriced = price === null && input.tokens.input + input.tokens.output > 0;
      return { input, terms, unpriced, cost: computeCost(input.tokens, price, terms.rateMultiplier) };
    });
    let recorded = 0;
    const billed: UsageInput[] = [];
    const unpriced: UsageInput[] = [];
    await this.#orm.em.fork().transactional(async (em) => {
      for (const { input, terms, cost, unpriced: noPrice } of priced) {
        if (await insertRecord(em, input, terms, cost)) {
          recorded++;
          await applyCost(em, input, terms, cost);
          if (cost.total !== 0n) billed.push(input);
          if (noPrice) unpriced.push(input);
        }
      }
    });
    this.#announce(billed);
    // Warned once per recorded request (a retried duplicate is not counted again).
    for (const input of unpriced) {
      this.#log.warn(
        { model: input.upstreamModel, requestId: input.requestId },
        "no price for model; cost 0",
      );
      this.#onUnpriced(input.upstreamModel);
    }
    return { recorded, duplicates: inputs.length - recorded };
  }

  /** One change per distinct user and key that money moved for; only after the commit, never for a rollback. */
  #announce(billed: readonly UsageInput[]): void {
    for (const id of new Set(billed.map((u) => u.userId))) this.#feed.publish({ kind: "user", id });
    for (const id of new Set(billed.map((u) => u.keyId))) this.#feed.publish({ kind: "api_key", id });
  }

  async #priceMap(): Promise<Map<string, Price>> {
    if (this.#prices && this.#clock.now() - this.#prices.at < CACHE_MAX_AGE_MS) return this.#prices.map;
    const rows = await this.#orm.em
      .getConnection()
      .execute<{ model: string; input: string; cached: string; output: string }[]>(
        "select model, input_usd_per_mtok as input, cached_input_usd_per_mtok as cached, output_usd_per_mtok as output from model_prices",
      );
    const map = new Map(
      rows.map((r) => [
        r.model,
        {
          inputPerMtok: fromNumeric(r.input),
          cachedInputPerMtok: fromNumeric(r.cached),
          outputPerMtok: fromNumeric(r.output),
        },
      ]),
    );
    this.#prices = { map, at: this.#clock.now() };
    return map;
  }

  async #groupMap(): Promise<Map<string, GroupTerms>> {
    if (this.#groups && this.#clock.now() - this.#groups.at < CACHE_MAX_AGE_MS) return this.#groups.map;
    const rows = await this.#orm.em
      .getConnection()
      .execute<{ id: string; rate_multiplier: string; billing_mode: string }[]>(
        "select id, rate_multiplier, billing_mode from groups",
      );
    const map = new Map(
      rows.map((r) => [
        r.id,
        {
          rateMultiplier: r.rate_multiplier,
          billingMode: r.billing_mode === "subscription" ? ("subscription" as const) : ("balance" as const),
        },
      ]),
    );
    this.#groups = { map, at: this.#clock.now() };
    return map;
  }
}

const INSERT_SQL = `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, account_id,
  subscription_id, requested_model, upstream_model, endpoint, stream, input_tokens, cached_input_tokens,
  output_tokens, reasoning_tokens, input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier,
  total_cost_usd, outcome, status_code, first_token_ms, duration_ms, failover_count, upstream_request_id, created_at)
  values (?, ?, ?, ?, ?, ?,
    (select s.id from subscriptions s where s.user_id = ? and s.group_id = ? and s.status = 'active'
       and s.starts_at <= ? and s.expires_at > ? order by s.expires_at desc limit 1),
    ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (request_id) do nothing returning request_id`;

async function insertRecord(
  em: EntityManager,
  u: UsageInput,
  terms: GroupTerms,
  cost: Cost,
): Promise<boolean> {
  const at = new Date(u.startedAt);
  const subscription = terms.billingMode === "subscription";
  const rows = await em
    .getConnection()
    .execute<{ request_id: string }[]>(
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
        at,
      ],
      "all",
      em.getTransactionContext(),
    );
  return rows.length === 1;
}

async function applyCost(em: EntityManager, u: UsageInput, terms: GroupTerms, cost: Cost): Promise<void> {
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
