import type { MikroORM } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import { fromNumeric } from "../../../shared/money.js";
import { OutageLog } from "../../../shared/outage-log.js";
import { type Cost, computeCost, lookupPrice, type Price } from "../../domain/billing/cost.js";
import type { LedgerResult, UsageInput, UsageLedger } from "../../domain/billing/usage-ledger.js";
import type { BilledUsage, ChangeFeed } from "../../domain/change-feed.js";
import { databaseUnavailable, isDatabaseUnavailable } from "./database-errors.js";
import { applyCosts, type GroupTerms, writeUsageRecords } from "./usage-record-sql.js";

const CACHE_MAX_AGE_MS = 10_000;

/** Called for usage of a model without a price (cost 0): a warning log and a metric, never a failed request. */
export type UnpricedModelListener = (model: string) => void;

/** Called for each recorded usage with what it cost (pico-USD), for per-group and per-account cost metrics. */
export type BilledUsageListener = (groupId: string, accountId: string, costPico: bigint) => void;

/** A record ready to write: its group's terms and its cost. */
interface PricedUsage {
  input: UsageInput;
  terms: GroupTerms;
  cost: Cost;
  unpriced: boolean;
}

/** What one committed transaction wrote. */
interface Committed {
  written: PricedUsage[];
  /** Money moved, per user/key/subscription, for the caches on every replica. */
  billed: Map<string, { userId: string; billed: BilledUsage; amount: bigint }>;
  replaced: number;
}

/**
 * The usage ledger on PostgreSQL. One transaction per batch, of a few statements whatever the batch's size (the records
 * in one insert, then the money per user and per key in one update each): each record is written on its request id (a duplicate
 * changes nothing; a real report replaces an `abandoned` record), and only a record actually written moves money
 * (user balance for balance groups, key quota for all). A record the database refuses (a value it cannot take) is
 * isolated by writing the batch's records one by one, logged and counted, and never blocks the rest. Prices and
 * group terms are cached briefly and dropped on change. After the commit it announces the money moved per user and
 * key (`usage_billed`), which every replica's key-record cache applies as a delta instead of re-reading.
 */
export class PostgresUsageLedger implements UsageLedger {
  readonly #orm: MikroORM;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #feed: ChangeFeed;
  readonly #onUnpriced: UnpricedModelListener;
  readonly #onRefused: () => void;
  readonly #onBilled: BilledUsageListener;
  readonly #outage: OutageLog;
  #prices: { map: Map<string, Price>; at: number } | null = null;
  #groups: { map: Map<string, GroupTerms>; at: number } | null = null;

  constructor(deps: {
    orm: MikroORM;
    feed: ChangeFeed;
    clock: Clock;
    log: Logger;
    onUnpriced?: UnpricedModelListener;
    /** Called for each record the database refused (written alone, it still failed). */
    onRefused?: () => void;
    onBilled?: BilledUsageListener;
  }) {
    this.#orm = deps.orm;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#feed = deps.feed;
    this.#onUnpriced = deps.onUnpriced ?? (() => {});
    this.#onRefused = deps.onRefused ?? (() => {});
    this.#onBilled = deps.onBilled ?? (() => {});
    this.#outage = new OutageLog(deps.log, "database (usage ledger)");
    deps.feed.subscribe((change) => {
      if (change.kind === "model_price" || change.kind === "reset") this.#prices = null;
      if (change.kind === "group" || change.kind === "reset") this.#groups = null;
    });
  }

  async record(inputs: readonly UsageInput[]): Promise<LedgerResult> {
    if (inputs.length === 0) return { recorded: 0, duplicates: 0 };
    try {
      const priced = await this.#price(inputs);
      const result = await this.#commitIsolating(priced);
      this.#outage.ok();
      return result;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      this.#outage.failed(err);
      throw databaseUnavailable(err);
    }
  }

  async #price(inputs: readonly UsageInput[]): Promise<PricedUsage[]> {
    const [prices, groups] = await Promise.all([this.#priceMap(), this.#groupMap()]);
    return inputs.map((input) => {
      const terms = groups.get(input.groupId) ?? { rateMultiplier: "1", billingMode: "balance" as const };
      const price = lookupPrice(prices, input.upstreamModel);
      const unpriced = price === null && input.tokens.input + input.tokens.output > 0;
      return { input, terms, unpriced, cost: computeCost(input.tokens, price, terms.rateMultiplier) };
    });
  }

  /** The batch in one transaction; if the database refuses it, each record in its own, skipping the refused. */
  async #commitIsolating(priced: PricedUsage[]): Promise<LedgerResult> {
    try {
      const committed = await this.#commit(priced);
      this.#after(committed);
      return { recorded: committed.written.length, duplicates: priced.length - committed.written.length };
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      if (priced.length === 1) {
        this.#refused(priced[0], err);
        return { recorded: 0, duplicates: 1 };
      }
    }
    let recorded = 0;
    for (const one of priced) {
      try {
        const committed = await this.#commit([one]);
        this.#after(committed);
        recorded += committed.written.length;
      } catch (err) {
        if (isDatabaseUnavailable(err)) throw err;
        this.#refused(one, err);
      }
    }
    return { recorded, duplicates: priced.length - recorded };
  }

  async #commit(priced: readonly PricedUsage[]): Promise<Committed> {
    const committed: Committed = { written: [], billed: new Map(), replaced: 0 };
    await this.#orm.em.fork().transactional(async (em) => {
      const results = await writeUsageRecords(em, priced);
      for (const [i, result] of results.entries()) {
        const usage = priced[i];
        if (!usage || !result.written) continue;
        committed.written.push(usage);
        if (result.replaced) committed.replaced++;
        if (usage.cost.total !== 0n) addBilled(committed, usage, result.subscriptionId);
      }
      await applyCosts(em, committed.written);
    });
    return committed;
  }

  /** After a commit (never for a rollback): announce the money moved, warn about unpriced models. */
  #after(committed: Committed): void {
    for (const { userId, billed, amount } of committed.billed.values()) {
      this.#feed.publish({
        kind: "usage_billed",
        id: userId,
        billed: { ...billed, amountPico: amount.toString() },
      });
    }
    for (const { input, cost } of committed.written)
      this.#onBilled(input.groupId, input.accountId ?? "", cost.total);
    if (committed.replaced > 0)
      this.#log.info({ records: committed.replaced }, "abandoned usage records replaced by the real report");
    // Warned once per recorded request (a retried duplicate is not counted again).
    for (const { input } of committed.written.filter((u) => u.unpriced)) {
      this.#log.warn(
        { model: input.upstreamModel, requestId: input.requestId },
        "no price for model; cost 0",
      );
      this.#onUnpriced(input.upstreamModel);
    }
  }

  #refused(usage: PricedUsage | undefined, err: unknown): void {
    this.#log.error(
      { err, statement: "usage.insert", requestId: usage?.input.requestId },
      "usage record refused by the database; the rest of its batch is kept",
    );
    this.#onRefused();
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

function addBilled(committed: Committed, usage: PricedUsage, subscriptionId: string | null): void {
  const { input, terms, cost } = usage;
  const fromBalance = terms.billingMode === "balance";
  const key = `${input.userId}|${input.keyId}|${subscriptionId ?? ""}|${fromBalance}`;
  const entry = committed.billed.get(key);
  if (entry) entry.amount += cost.total;
  else
    committed.billed.set(key, {
      userId: input.userId,
      billed: { keyId: input.keyId, subscriptionId, amountPico: "", fromBalance },
      amount: cost.total,
    });
}
