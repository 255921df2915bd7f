import { Migrator } from "@mikro-orm/migrations";
import { MikroORM, type Options, PostgreSqlDriver } from "@mikro-orm/postgresql";
import { ENTITIES } from "./entities.js";
import { MIGRATIONS } from "./migrations/index.js";

/** The table MikroORM records applied migrations in. */
export const MIGRATIONS_TABLE = "switchyard_migrations";

/** Tuning for {@link openDatabase}. */
export interface DatabaseOptions {
  poolMax?: number;
  debug?: boolean;
  /** Receives MikroORM's own messages (e.g. migrations applied); silent by default. */
  logger?: (message: string) => void;
  /** Create the database when it does not exist (MikroORM's default); off for read-only callers. */
  ensureDatabase?: boolean;
  /** Give up connecting after this long (no limit by default: the server's pool retries on its own). */
  connectTimeoutMs?: number;
}

/**
 * Opens the durable store. Migrations are listed in code (MikroORM's own file loader bypasses the TS loader used in
 * development and tests), so the same list runs from source and from dist/.
 */
export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<MikroORM> {
  return MikroORM.init(databaseOptions(url, options));
}

/** The ORM options, shared by the server, `switchyard migrate` and tests. */
export function databaseOptions(url: string, options: DatabaseOptions = {}): Options {
  return {
    driver: PostgreSqlDriver,
    clientUrl: url,
    entities: ENTITIES,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolMax ?? 10 },
    debug: options.debug ?? false,
    logger: options.logger ?? (() => {}),
    // The query builder's own console lines (one per failed connection while the database is away) go to the same
    // quiet logger: callers report an outage once (OutageLog), not a line per attempt.
    // Failed queries' messages would otherwise quote the statement with its parameters inlined.
    driverOptions: {
      log: knexLog(options.logger ?? (() => {})),
      compileSqlOnError: false,
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connection: { connectionTimeoutMillis: options.connectTimeoutMs } }),
    },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    ensureDatabase: options.ensureDatabase ?? true,
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: MIGRATIONS_TABLE,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
  };
}

/** Applies pending migrations; returns the names applied (empty when up to date). */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

function knexLog(logger: (message: string) => void) {
  const forward = (message: unknown) => logger(String(message));
  return { warn: forward, error: forward, deprecate: forward, debug: () => {} };
}
