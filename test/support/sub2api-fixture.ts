import { MikroORM } from "@mikro-orm/postgresql";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

/**
 * The reference system's (sub2api) tables as its migrations define them (SUB2API-SCHEMA.md): numeric money, jsonb
 * credentials and extra, timestamptz soft deletes. Only what the importer reads, plus columns it must ignore.
 */
const SCHEMA = [
  `create table users (id bigserial primary key, email text not null, username text, password_hash text not null
    default '', role text not null default 'user', status text not null default 'active',
    balance numeric(20,8) not null default 0, frozen_balance numeric(20,8) not null default 0,
    concurrency int not null default 5, rpm_limit int not null default 0, notes text,
    created_at timestamptz not null default now(), deleted_at timestamptz)`,
  `create table groups (id bigserial primary key, name text not null, description text, platform text not null
    default 'anthropic', status text not null default 'active', rate_multiplier numeric(10,4) not null default 1,
    subscription_type text not null default 'standard', daily_limit_usd numeric(20,8), weekly_limit_usd
    numeric(20,8), monthly_limit_usd numeric(20,8), deleted_at timestamptz)`,
  `create table api_keys (id bigserial primary key, user_id bigint not null, key text not null unique, name text,
    group_id bigint, status text not null default 'active', expires_at timestamptz, ip_whitelist jsonb,
    ip_blacklist jsonb, quota numeric(20,8) not null default 0, quota_used numeric(20,8) not null default 0,
    rate_limit_5h numeric(20,8) not null default 0, rate_limit_1d numeric(20,8) not null default 0,
    rate_limit_7d numeric(20,8) not null default 0, deleted_at timestamptz)`,
  `create table proxies (id bigserial primary key, name text, protocol text not null, host text not null,
    port int not null, username text, password text, deleted_at timestamptz)`,
  `create table accounts (id bigserial primary key, name text not null, platform text not null, type text not null,
    credentials jsonb not null default '{}', extra jsonb not null default '{}', proxy_id bigint,
    concurrency int not null default 3, priority int not null default 50, rate_multiplier numeric(10,4) not null
    default 1, schedulable boolean not null default true, status text not null default 'active',
    deleted_at timestamptz)`,
  `create table account_groups (account_id bigint not null, group_id bigint not null, priority int not null
    default 50, primary key (account_id, group_id))`,
  `create table user_subscriptions (id bigserial primary key, user_id bigint not null, group_id bigint not null,
    starts_at timestamptz not null, expires_at timestamptz not null, status text not null default 'active')`,
  `create table error_passthrough_rules (id bigserial primary key, name text not null, enabled boolean not null
    default true, priority int not null default 0, error_codes int[] not null default '{}', keywords text[] not null
    default '{}', match_mode text not null default 'any', platforms text[] not null default '{}',
    passthrough_code boolean not null default true, response_code int, passthrough_body boolean not null default
    true, custom_message text, skip_monitoring boolean not null default false, description text)`,
];

/** A reference-system database for one test file, with SQL access to fill it. */
export interface Sub2apiDatabase {
  url: string;
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

/** Creates an empty sub2api schema in a fresh database. */
export async function createSub2apiDatabase(label: string): Promise<Sub2apiDatabase> {
  const db: TestDatabase = await createTestDatabase(label);
  const orm = await MikroORM.init({
    clientUrl: db.url,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: 1 },
  });
  const sql = (query: string, params: unknown[] = []) =>
    orm.em.getConnection().execute<Record<string, unknown>[]>(query, params);
  for (const statement of SCHEMA) await sql(statement);
  return {
    url: db.url,
    sql,
    async drop() {
      await orm.close(true);
      await db.drop();
    },
  };
}

/**
 * An oauth account's `credentials` as sub2api keeps them (SUB2API-SCHEMA.md): the tokens, `expires_at` as RFC 3339
 * text (as its OAuth service writes it), the ChatGPT account id, a model mapping, and keys of sub2api's own that
 * Switchyard does not carry (`email`, `plan_type`). JSON text for a jsonb parameter.
 */
export function sub2apiChatGptCredentials(
  tokens: { accessToken: string; refreshToken: string; chatgptAccountId: string },
  expiresAt: Date,
  modelMapping: Record<string, string>,
): string {
  return JSON.stringify({
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    expires_at: expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    chatgpt_account_id: tokens.chatgptAccountId,
    model_mapping: modelMapping,
    email: "team@example.com",
    plan_type: "plus",
  });
}
