import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "../../../shared/logger.js";
import { parseUsd, toNumeric } from "../../../shared/money.js";
import defaults from "./default-prices.json" with { type: "json" };

/** One row of the shipped price table: decimal USD strings per 1M tokens. */
export interface DefaultPrice {
  model: string;
  input: string;
  cachedInput: string;
  output: string;
}

/**
 * OpenAI's published list prices (standard tier, USD per 1M input, cached input and output tokens) for the common
 * models, as of the date in `default-prices.json` (`asOf`). They only seed an empty price table on first start:
 * list prices change, and operators keep theirs current with `switchyard admin prices set` (or delete a model's
 * price with `switchyard admin prices delete`). The JSON is imported as a module so tsc emits it next to this file
 * in dist/ and tsx reads it from src/.
 */
export const DEFAULT_PRICES: { asOf: string; prices: readonly DefaultPrice[] } = defaults;

/**
 * Inserts {@link DEFAULT_PRICES} when `model_prices` is empty; returns how many rows it inserted. A table with any
 * row is the operator's and is left alone: an edited price is never overwritten and a deleted default stays deleted
 * (only an emptied table is seeded again). One statement, so replicas starting together cannot double-insert or
 * overwrite: ON CONFLICT DO NOTHING drops the rows another replica inserted first. Amounts are validated like the
 * admin API's (decimal, at most 6 fractional digits); a malformed table fails the start. Running replicas pick the
 * rows up when their price cache expires (seconds).
 */
export async function seedDefaultPrices(orm: MikroORM, log: Logger): Promise<number> {
  const rows = DEFAULT_PRICES.prices.map((p) => [
    p.model,
    toNumeric(parseUsd(p.input)),
    toNumeric(parseUsd(p.cachedInput)),
    toNumeric(parseUsd(p.output)),
  ]);
  if (rows.length === 0) return 0;
  const values = rows.map(() => "(?, ?, ?, ?)").join(", ");
  const inserted = await orm.em.getConnection().execute<{ model: string }[]>(
    `insert into model_prices (model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, updated_at)
     select v.model, v.input::numeric, v.cached::numeric, v.output::numeric, now()
       from (values ${values}) as v(model, input, cached, output)
      where not exists (select 1 from model_prices)
     on conflict (model) do nothing
     returning model`,
    rows.flat(),
    "all",
  );
  if (inserted.length > 0) {
    log.info({ models: inserted.length, asOf: DEFAULT_PRICES.asOf }, "default model prices seeded");
  }
  return inserted.length;
}
