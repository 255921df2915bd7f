import { migrate, openDatabase } from "../control-plane/store/db/orm.js";
import type { Config } from "../shared/config.js";

/** `switchyard migrate`: applies pending migrations to SWITCHYARD_DATABASE_URL and lists what it applied. */
export async function runMigrations(config: Config): Promise<number> {
  if (config.controlPlane.databaseUrl === "") {
    process.stderr.write("switchyard: SWITCHYARD_DATABASE_URL is required for migrate\n");
    return 2;
  }
  const orm = await openDatabase(config.controlPlane.databaseUrl);
  try {
    const applied = await migrate(orm);
    process.stdout.write(
      applied.length === 0 ? "database is up to date\n" : `applied: ${applied.join(", ")}\n`,
    );
    return 0;
  } finally {
    await orm.close(true);
  }
}
