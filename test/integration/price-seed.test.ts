import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane } from "../../src/control-plane/main.js";
import { migrate, openDatabase } from "../../src/control-plane/store/db/orm.js";
import { DEFAULT_PRICES, seedDefaultPrices } from "../../src/control-plane/store/db/price-seed.js";
import { Endpoint, Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { newRequestId } from "../../src/shared/ids.js";
import { formatUsd, parseUsd } from "../../src/shared/money.js";
import { seedTenant, startTestControlPlane, testLogger } from "../support/control-plane.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;
type PriceRow = { model: string; input: string; cached: string; output: string };

/** Every price the admin API lists, as `[model, input, cached, output]` rows. */
async function listedPrices(cp: ControlPlane): Promise<PriceRow[]> {
  const rows: PriceRow[] = [];
  let pageToken = "";
  do {
    const page = await cp.admin.listModelPrices({ pageSize: 5, pageToken });
    for (const p of page.prices) {
      rows.push({
        model: p.model,
        input: p.inputUsdPerMtok,
        cached: p.cachedInputUsdPerMtok,
        output: p.outputUsdPerMtok,
      });
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return rows;
}

/** The shipped table as the admin API shows it (canonical decimals, by model). */
const shipped: PriceRow[] = DEFAULT_PRICES.prices
  .map((p) => ({
    model: p.model,
    input: formatUsd(parseUsd(p.input)),
    cached: formatUsd(parseUsd(p.cachedInput)),
    output: formatUsd(parseUsd(p.output)),
  }))
  .sort((a, b) => (a.model < b.model ? -1 : 1));

async function migratedDatabase(label: string): Promise<{ db: TestDatabase; orms: MikroORM[] }> {
  const db = await createTestDatabase(label);
  const orm = await openDatabase(db.url, { poolMax: 2 });
  await migrate(orm);
  return { db, orms: [orm] };
}

describe("default model prices", () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane("price_seed", { redis: false });
  });
  afterAll(() => cp?.stop());

  it("are seeded on the control plane's first start: the common OpenAI models at list price", async () => {
    expect(DEFAULT_PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const models = shipped.map((p) => p.model);
    for (const family of ["gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"])
      expect(models).toContain(family);
    for (const family of ["gpt-4o", "gpt-4o-mini", "o1", "o3", "o3-mini", "o4-mini"])
      expect(models).toContain(family);
    expect(await listedPrices(cp)).toEqual(shipped);
    expect(shipped.find((p) => p.model === "gpt-4o")).toEqual({
      model: "gpt-4o",
      input: "2.5",
      cached: "1.25",
      output: "10",
    });
  });

  it("are not inserted again on a restart, and an operator's edit or deletion survives it", async () => {
    await cp.admin.setModelPrice({
      price: { model: "gpt-4o", inputUsdPerMtok: "3", cachedInputUsdPerMtok: "1.5", outputUsdPerMtok: "12" },
    });
    await cp.admin.deleteModelPrice({ model: "o1" });
    // A second control plane on the same database: a restart, or another replica starting.
    const config = { ...cp.config, controlPlane: { ...cp.config.controlPlane, redisUrl: "" } };
    const again = await startControlPlane(config, testLogger());
    await again.close();
    const orm = await openDatabase(cp.db.url, { poolMax: 1 });
    try {
      expect(await seedDefaultPrices(orm, testLogger())).toBe(0);
    } finally {
      await orm.close(true);
    }

    const listed = await listedPrices(cp);
    expect(listed).toHaveLength(shipped.length - 1);
    expect(listed.map((p) => p.model)).not.toContain("o1");
    expect(listed.find((p) => p.model === "gpt-4o")).toEqual({
      model: "gpt-4o",
      input: "3",
      cached: "1.5",
      output: "12",
    });
    expect(listed.filter((p) => p.model !== "gpt-4o")).toEqual(
      shipped.filter((p) => p.model !== "gpt-4o" && p.model !== "o1"),
    );
  });

  it("bill a dated upstream model at its base price; a model without one costs 0 and is counted on /metrics", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "1" });
    const report = (upstreamModel: string) => ({
      requestId: newRequestId(),
      leaseId: "lease-price-seed",
      principal: { userId: tenant.user.id, keyId: tenant.keyId, groupId: tenant.group.id },
      requestedModel: "house-alias",
      upstreamModel,
      endpoint: Endpoint.RESPONSES,
      tokens: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 100 },
      outcome: Outcome.COMPLETED,
      statusCode: 200,
      startedAtMs: BigInt(Date.now()),
    });
    const answer = await cp.gateway.reportUsage({
      records: [report("gpt-4.1-2025-04-14"), report("house-unpriced"), report("house-unpriced")],
    });
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    const { user } = await cp.admin.getUser({ id: tenant.user.id });
    const metrics = await (await fetch(`${cp.url}/metrics`)).text();

    expect([answer.recorded, answer.duplicates]).toEqual([3, 0]);
    // gpt-4.1 at list price: 800 × $2 + 200 × $0.50 + 100 × $8 per 1M tokens.
    expect(records.map((r) => [r.upstreamModel, r.totalCostUsd]).sort()).toEqual([
      ["gpt-4.1-2025-04-14", "0.0025"],
      ["house-unpriced", "0"],
      ["house-unpriced", "0"],
    ]);
    expect(user?.balanceUsd).toBe("0.9975");
    expect(metrics).toMatch(/^switchyard_unpriced_usage_total\{model="house-unpriced"\} 2$/m);
    expect(metrics).not.toContain('model="gpt-4.1-2025-04-14"');
  });

  it("are inserted exactly once when replicas seed an empty database at the same moment", async () => {
    const { db, orms } = await migratedDatabase("price_seed_race");
    for (let i = 0; i < 3; i++) orms.push(await openDatabase(db.url, { poolMax: 1 }));
    try {
      const inserted = await Promise.all(orms.map((orm) => seedDefaultPrices(orm, testLogger())));
      expect(inserted.reduce((a, b) => a + b, 0)).toBe(shipped.length);
      const [first] = orms as [MikroORM];
      const rows = await first.em
        .getConnection()
        .execute<{ model: string }[]>("select model from model_prices");
      expect(rows).toHaveLength(shipped.length);
    } finally {
      for (const orm of orms) await orm.close(true);
      await db.drop();
    }
  });

  it("are not added to a table the operator filled before the first start", async () => {
    const { db, orms } = await migratedDatabase("price_seed_filled");
    const [orm] = orms as [MikroORM];
    try {
      await orm.em
        .getConnection()
        .execute(
          "insert into model_prices (model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, updated_at) values ('house-model', 1, 0.1, 2, now())",
        );
      expect(await seedDefaultPrices(orm, testLogger())).toBe(0);
      const rows = await orm.em
        .getConnection()
        .execute<{ model: string }[]>("select model from model_prices order by model");
      expect(rows.map((r) => r.model)).toEqual(["house-model"]);
    } finally {
      await orm.close(true);
      await db.drop();
    }
  });
});
