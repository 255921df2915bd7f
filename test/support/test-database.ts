import { randomBytes } from "node:crypto";
import { MikroORM } from "@mikro-orm/postgresql";

/** The machine's PostgreSQL (trust auth), as CI and every developer machine have it. */
export const POSTGRES_ADMIN_URL =
  process.env.SWITCHYARD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh, empty database for one test file; `drop()` removes it. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database named after the test file plus a random suffix, so test files never collide. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `sy_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  await admin(`create database "${name}"`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin(`drop database if exists "${name}" with (force)`),
  };
}

async function admin(sql: string): Promise<void> {
  const orm = await MikroORM.init({
    clientUrl: POSTGRES_ADMIN_URL,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: 1 },
  });
  try {
    await orm.em.getConnection().execute(sql);
  } finally {
    await orm.close(true);
  }
}
