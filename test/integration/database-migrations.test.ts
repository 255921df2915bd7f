import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../src/control-plane/store/db/orm.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

describe("database migrations", () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase("migrations");
    orm = await openDatabase(db.url);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it("apply to an empty database, then find nothing left to apply", async () => {
    expect(await migrate(orm)).toEqual([
      "0001-initial-schema",
      "0002-subscription-usage-index",
      "0003-usage-out-of-range",
      "0004-parity-with-reference",
      "0005-chatgpt-accounts",
    ]);
    expect(await migrate(orm)).toEqual([]);
    const tables = await orm.em
      .getConnection()
      .execute<{ table_name: string }[]>(
        "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
      );
    expect(tables.map((t) => t.table_name)).toEqual([
      "accounts",
      "api_keys",
      "groups",
      "model_prices",
      "passthrough_rules",
      "settings",
      "subscriptions",
      "switchyard_migrations",
      "usage_records",
      "users",
    ]);
  });

  it("leave the schema exactly as the entities describe it", async () => {
    await migrate(orm);
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    expect(diff.trim()).toBe("");
  });

  it("make usage records unique per request id", async () => {
    await migrate(orm);
    const insert = `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, requested_model,
      upstream_model, endpoint, stream, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
      input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier, total_cost_usd, outcome, status_code,
      first_token_ms, duration_ms, failover_count, upstream_request_id, created_at)
      values ('req_dup', 'lse_1', gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'gpt-4o', 'gpt-4o',
      'responses', false, 1, 0, 1, 0, 0, 0, 0, 1, 0, 'completed', 200, 1, 1, 0, '', now())`;
    await orm.em.getConnection().execute(insert);
    await expect(orm.em.getConnection().execute(insert)).rejects.toThrow(/duplicate key/);
  });
});
