import { MikroORM } from "@mikro-orm/postgresql";

/**
 * The reference system's (sub2api) rows an import reads, as its migrations name the columns (SUB2API-SCHEMA.md).
 * Soft-deleted rows (`deleted_at` set) are never read. Numbers arrive as JS numbers or numeric strings; JSON
 * columns as parsed values (jsonb) or text (json), normalised by the mapping.
 */
export interface Sub2apiUser {
  id: number;
  email: string | null;
  username: string | null;
  role: string | null;
  status: string | null;
  balance: string | number | null;
  frozen_balance: string | number | null;
  concurrency: number | null;
  rpm_limit: number | null;
}

export interface Sub2apiGroup {
  id: number;
  name: string;
  description: string | null;
  platform: string;
  status: string | null;
  rate_multiplier: string | number | null;
  subscription_type: string | null;
  daily_limit_usd: string | number | null;
  weekly_limit_usd: string | number | null;
  monthly_limit_usd: string | number | null;
}

export interface Sub2apiApiKey {
  id: number;
  user_id: number;
  key: string;
  name: string | null;
  group_id: number | null;
  status: string | null;
  expires_at: Date | string | null;
  ip_whitelist: unknown;
  ip_blacklist: unknown;
  quota: string | number | null;
  quota_used: string | number | null;
  rate_limit_5h: string | number | null;
  rate_limit_1d: string | number | null;
  rate_limit_7d: string | number | null;
}

export interface Sub2apiAccount {
  id: number;
  name: string;
  platform: string;
  type: string;
  credentials: unknown;
  proxy_id: number | null;
  concurrency: number | null;
  priority: number | null;
  rate_multiplier: string | number | null;
  schedulable: boolean | null;
  status: string | null;
}

export interface Sub2apiAccountGroup {
  account_id: number;
  group_id: number;
  priority: number | null;
}

export interface Sub2apiProxy {
  id: number;
  protocol: string;
  host: string;
  port: number;
  username: string | null;
  password: string | null;
}

export interface Sub2apiSubscription {
  user_id: number;
  group_id: number;
  starts_at: Date | string;
  expires_at: Date | string;
  status: string;
}

export interface Sub2apiRule {
  name: string;
  enabled: boolean | null;
  priority: number | null;
  error_codes: unknown;
  keywords: unknown;
  match_mode: string | null;
  platforms: unknown;
  passthrough_code: boolean | null;
  response_code: number | null;
  passthrough_body: boolean | null;
  custom_message: string | null;
  skip_monitoring: boolean | null;
}

/** Everything an import reads, in id order (so plans and reports are stable from run to run). */
export interface Sub2apiData {
  users: Sub2apiUser[];
  groups: Sub2apiGroup[];
  apiKeys: Sub2apiApiKey[];
  accounts: Sub2apiAccount[];
  accountGroups: Sub2apiAccountGroup[];
  proxies: Sub2apiProxy[];
  subscriptions: Sub2apiSubscription[];
  rules: Sub2apiRule[];
}

/** Tables that have `deleted_at`; the others are read whole. */
const QUERIES: Record<keyof Sub2apiData, string> = {
  users: `select id, email, username, role, status, balance, frozen_balance, concurrency, rpm_limit
    from users where deleted_at is null order by id`,
  groups: `select id, name, description, platform, status, rate_multiplier, subscription_type, daily_limit_usd,
      weekly_limit_usd, monthly_limit_usd
    from groups where deleted_at is null order by id`,
  apiKeys: `select id, user_id, key, name, group_id, status, expires_at, ip_whitelist, ip_blacklist, quota,
      quota_used, rate_limit_5h, rate_limit_1d, rate_limit_7d
    from api_keys where deleted_at is null order by id`,
  accounts: `select id, name, platform, type, credentials, proxy_id, concurrency, priority, rate_multiplier,
      schedulable, status
    from accounts where deleted_at is null order by id`,
  accountGroups: "select account_id, group_id, priority from account_groups order by account_id, group_id",
  proxies: "select id, protocol, host, port, username, password from proxies order by id",
  subscriptions: `select user_id, group_id, starts_at, expires_at, status from user_subscriptions
    order by user_id, group_id, starts_at`,
  rules: `select name, enabled, priority, error_codes, keywords, match_mode, platforms, passthrough_code,
      response_code, passthrough_body, custom_message, skip_monitoring
    from error_passthrough_rules order by priority, name`,
};

/** Reads the reference system's database (read-only: only selects). */
export async function readSub2api(databaseUrl: string): Promise<Sub2apiData> {
  const orm = await MikroORM.init({
    clientUrl: databaseUrl,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: 1 },
    ensureDatabase: false,
    logger: () => {},
  });
  try {
    const connection = orm.em.getConnection();
    const data: Partial<Record<keyof Sub2apiData, unknown[]>> = {};
    for (const [table, sql] of Object.entries(QUERIES) as [keyof Sub2apiData, string][]) {
      try {
        data[table] = await connection.execute(sql);
      } catch (err) {
        const reason = err instanceof Error ? err.message.split("\n", 1)[0] : String(err);
        throw new Error(`cannot read sub2api's ${table} (${reason})`);
      }
    }
    return data as unknown as Sub2apiData;
  } finally {
    await orm.close(true);
  }
}
