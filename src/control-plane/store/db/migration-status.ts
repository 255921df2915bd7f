import type { MikroORM } from "@mikro-orm/postgresql";
import { MIGRATIONS } from "./migrations/index.js";
import { MIGRATIONS_TABLE } from "./orm.js";

/**
 * The migrations this build knows that the database has not recorded as applied, oldest first (empty: the schema
 * is current). Read-only on purpose: MikroORM's own `getPendingMigrations()` creates the database and the tracking
 * table when they are missing, which would race the process that is about to migrate (`switchyard migrate --wait`
 * runs beside it). Migrations the database has and this build does not know (a newer schema) do not count.
 */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const connection = orm.em.getConnection();
  const [table] = await connection.execute<{ present: boolean }[]>(
    "select to_regclass(?) is not null as present",
    [MIGRATIONS_TABLE],
  );
  if (table?.present !== true) return MIGRATIONS.map((m) => m.name);
  const rows = await connection.execute<{ name: string }[]>(`select name from "${MIGRATIONS_TABLE}"`);
  const applied = new Set(rows.map((r) => r.name.replace(/\.(js|ts)$/, "")));
  return MIGRATIONS.map((m) => m.name).filter((name) => !applied.has(name));
}
