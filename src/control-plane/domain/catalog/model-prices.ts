import type { EntityManager } from "@mikro-orm/postgresql";
import { fromNumeric, type PicoUsd, toNumeric } from "../../../shared/money.js";
import { type ModelPrice, ModelPriceEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { invalid, moneyField, notFound, requiredName } from "./validation.js";

/** A model's price in USD per 1M tokens. */
export interface ModelPriceRecord {
  /** The upstream (billing) model name. */
  model: string;
  inputUsdPerMtok: PicoUsd;
  cachedInputUsdPerMtok: PicoUsd;
  outputUsdPerMtok: PicoUsd;
  updatedAt: Date;
}

/** SetModelPrice's fields: every amount required (a decimal string, not negative). */
export interface SetModelPriceInput {
  model: string;
  inputUsdPerMtok: string;
  cachedInputUsdPerMtok: string;
  outputUsdPerMtok: string;
}

const MODEL_MAX = 256;

/** The price row as a record. */
export function toModelPriceRecord(row: ModelPrice): ModelPriceRecord {
  return {
    model: row.model,
    inputUsdPerMtok: fromNumeric(row.inputUsdPerMtok),
    cachedInputUsdPerMtok: fromNumeric(row.cachedInputUsdPerMtok),
    outputUsdPerMtok: fromNumeric(row.outputUsdPerMtok),
    updatedAt: row.updatedAt,
  };
}

/** Every price by model name: what cost computation reads (an unknown model costs 0 and raises a metric). */
export async function readModelPrices(em: EntityManager): Promise<Map<string, ModelPriceRecord>> {
  const rows = await em.fork().find(ModelPriceEntity, {}, { orderBy: { model: "asc" } });
  return new Map(rows.map((r) => [r.model, toModelPriceRecord(r)]));
}

function amount(value: string, field: string): PicoUsd {
  if (value.trim() === "") throw invalid(field, "required");
  return moneyField(value, field);
}

/** Model prices, keyed by the upstream model name. */
export class ModelPriceCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  /** Creates or replaces a model's price. */
  async set(input: SetModelPriceInput): Promise<ModelPriceRecord> {
    const model = requiredName(input.model, "price.model", MODEL_MAX);
    const values = {
      inputUsdPerMtok: toNumeric(amount(input.inputUsdPerMtok, "price.input_usd_per_mtok")),
      cachedInputUsdPerMtok: toNumeric(
        amount(input.cachedInputUsdPerMtok, "price.cached_input_usd_per_mtok"),
      ),
      outputUsdPerMtok: toNumeric(amount(input.outputUsdPerMtok, "price.output_usd_per_mtok")),
      updatedAt: nowOf(this.deps),
    };
    // One INSERT … ON CONFLICT: concurrent sets of a new model never collide on the primary key.
    const row = await this.deps.em.fork().upsert(ModelPriceEntity, { model, ...values });
    recordMutation(this.deps, "model_price.set", { kind: "model_price", id: model });
    return toModelPriceRecord(row);
  }

  /** By model name. */
  async list(page: PageRequest): Promise<Page<ModelPriceRecord>> {
    const size = resolvePageSize(page.pageSize);
    const cursor = decodeCursor(page.pageToken, ["text"] as const);
    const rows = await this.deps.em
      .fork()
      .find(ModelPriceEntity, cursor ? { model: { $gt: cursor[0] } } : {}, {
        orderBy: { model: "asc" },
        limit: size + 1,
      });
    return toPage(rows, size, (r) => [r.model], toModelPriceRecord);
  }

  async delete(model: string): Promise<void> {
    if (model === "") throw invalid("model", "required");
    const deleted = await this.deps.em.fork().nativeDelete(ModelPriceEntity, { model });
    if (deleted === 0) throw notFound("model price", model);
    recordMutation(this.deps, "model_price.delete", { kind: "model_price", id: model });
  }
}
