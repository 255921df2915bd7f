import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { type Client, Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { expect } from "vitest";
import { type Catalog, createCatalog } from "../../src/control-plane/domain/catalog/index.js";
import { type Change, LocalChangeFeed } from "../../src/control-plane/domain/change-feed.js";
import { CredentialCipher, cipherKey } from "../../src/control-plane/domain/credential-cipher.js";
import { createAdminService } from "../../src/control-plane/services/admin-service.js";
import { migrate, openDatabase } from "../../src/control-plane/store/db/orm.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { ManualClock } from "../../src/shared/clock.js";
import { createLogger } from "../../src/shared/logger.js";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

/** The instant every harness clock starts at. */
export const HARNESS_START = Date.parse("2026-03-02T10:00:00.000Z");

/**
 * An AdminService over a fresh, migrated PostgreSQL database, reached through Connect's in-memory transport, with
 * every log line and published change captured.
 */
export interface AdminHarness {
  client: Client<typeof AdminService>;
  catalog: Catalog;
  orm: MikroORM;
  cipher: CredentialCipher;
  clock: ManualClock;
  /** Where the catalog publishes its changes. */
  feed: LocalChangeFeed;
  /** Changes published, in order. */
  changes: Change[];
  /** Parsed JSON log lines, in order. */
  logLines: Record<string, unknown>[];
  /** Everything logged, as written. */
  logText(): string;
  /** Raw SQL against the test database. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** Starts a harness on its own database (named after `label`). */
export async function startAdminHarness(label: string): Promise<AdminHarness> {
  const db: TestDatabase = await createTestDatabase(label);
  const orm = await openDatabase(db.url, { poolMax: 4 });
  await migrate(orm);
  const raw: string[] = [];
  const logLines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      const text = String(chunk);
      raw.push(text);
      for (const line of text.split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ destination, level: "debug" });
  const feed = new LocalChangeFeed();
  const changes: Change[] = [];
  feed.subscribe((c) => changes.push(c));
  const clock = new ManualClock(HARNESS_START);
  const cipher = new CredentialCipher(cipherKey(randomBytes(32)));
  const catalog = createCatalog({ em: orm.em, clock, changes: feed, log, cipher, billingTimezone: "UTC" });
  const impl = createAdminService({ catalog, log });
  const transport = createRouterTransport(({ service }) => service(AdminService, impl));
  return {
    client: createClient(AdminService, transport),
    catalog,
    orm,
    cipher,
    clock,
    feed,
    changes,
    logLines,
    logText: () => raw.join(""),
    sql: (query, params = []) => orm.em.fork().getConnection().execute(query, params),
    async close() {
      await orm.close(true);
      await db.drop();
    },
  };
}

/** Awaits a call expected to fail with `code`; when `field` is given, the message must start with it. */
export async function expectRpcError(
  call: Promise<unknown>,
  code: Code,
  field?: string,
): Promise<ConnectError> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "the call should have failed").toBeInstanceOf(ConnectError);
  const ce = err as ConnectError;
  expect(Code[ce.code], ce.rawMessage).toBe(Code[code]);
  if (field !== undefined) expect(ce.rawMessage.startsWith(`${field}:`), ce.rawMessage).toBe(true);
  return ce;
}

/** The audit lines logged for an action ("user.create", …). */
export function auditLines(h: AdminHarness, action: string): Record<string, unknown>[] {
  return h.logLines.filter((l) => l.audit === true && l.action === action);
}

/** Creates a balance group and a user, for tests that need owners. */
export async function seedUserAndGroup(
  h: AdminHarness,
  names: { user?: string; group?: string } = {},
): Promise<{ userId: string; groupId: string }> {
  const { user } = await h.client.createUser({ name: names.user ?? "seed-user" });
  const { group } = await h.client.createGroup({ name: names.group ?? "seed-group" });
  if (!user || !group) throw new Error("seed failed");
  return { userId: user.id, groupId: group.id };
}
