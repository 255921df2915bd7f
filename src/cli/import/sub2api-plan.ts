import { hashApiKey, looksLikeApiKey } from "../../shared/api-key.js";
import { planAccount } from "./sub2api-account-plan.js";
import type { Sub2apiApiKey, Sub2apiData, Sub2apiGroup, Sub2apiRule, Sub2apiUser } from "./sub2api-source.js";
import { limit, numberList, OPENAI, stringList, usd } from "./sub2api-values.js";

/** What an import carries over, in the order it is written (each kind only refers to earlier ones). */
export const IMPORT_KINDS = [
  "user",
  "group",
  "account",
  "chatgpt account",
  "api key",
  "subscription",
  "rule",
] as const;

export type ImportKind = (typeof IMPORT_KINDS)[number];

/** A user as Switchyard creates it. */
export interface UserPlan {
  kind: "user";
  name: string;
  balanceUsd: string;
  concurrency: number;
  rpmLimit: number;
  disabled: boolean;
}

/** A group as Switchyard creates it. */
export interface GroupPlan {
  kind: "group";
  name: string;
  description: string;
  rateMultiplier: string;
  subscription: boolean;
  dailyLimitUsd: string;
  weeklyLimitUsd: string;
  monthlyLimitUsd: string;
}

/** What every carried account keeps, whatever its kind; `groupNames` are of carried groups. */
export interface AccountSettings {
  name: string;
  proxyUrl: string;
  concurrency: number | undefined;
  priority: number | undefined;
  modelMapping: Record<string, string>;
  groupNames: string[];
  disabled: boolean;
  schedulable: boolean;
}

/** An API-key account. The credential never appears in reports. */
export interface AccountPlan extends AccountSettings {
  kind: "account";
  baseUrl: string;
  credential: string;
}

/**
 * A ChatGPT-subscription (oauth) account, created with type OAUTH: its tokens are sealed by the control plane, which
 * refreshes them from then on. The tokens never appear in reports.
 */
export interface ChatGptAccountPlan extends AccountSettings {
  kind: "chatgpt account";
  accessToken: string;
  refreshToken: string;
  /** "" when sub2api kept none. */
  idToken: string;
  chatgptAccountId: string;
}

/** A client key, imported by its hash (the plaintext stays with the client). */
export interface ApiKeyPlan {
  kind: "api key";
  /** How reports name it: its display prefix and name, never the whole key. */
  name: string;
  keySha256: Uint8Array;
  prefix: string;
  keyName: string;
  userName: string;
  groupName: string;
  disabled: boolean;
  expiresAt: Date | undefined;
  quotaUsd: string;
  quotaUsedUsd: string;
  ipAllow: string[];
  ipDeny: string[];
  spendLimit5hUsd: string;
  spendLimit1dUsd: string;
  spendLimit7dUsd: string;
}

/** An active subscription of a carried user to a carried group. */
export interface SubscriptionPlan {
  kind: "subscription";
  name: string;
  userName: string;
  groupName: string;
  startsAt: Date;
  expiresAt: Date;
}

/** An error-passthrough rule. */
export interface RulePlan {
  kind: "rule";
  name: string;
  enabled: boolean;
  priority: number;
  errorCodes: number[];
  keywords: string[];
  matchAll: boolean;
  platforms: string[];
  passthroughCode: boolean;
  responseCode: number;
  passthroughBody: boolean;
  customMessage: string;
  skipMonitoring: boolean;
}

export type ImportStep =
  | UserPlan
  | GroupPlan
  | AccountPlan
  | ChatGptAccountPlan
  | ApiKeyPlan
  | SubscriptionPlan
  | RulePlan;

/** A row, or part of one, that the import leaves behind, and why. Never silently dropped. */
export interface NotCarried {
  kind: ImportKind;
  name: string;
  reason: string;
}

/** Everything an import would write, and everything it cannot. */
export interface ImportPlan {
  steps: ImportStep[];
  /** Whole rows left behind. */
  notCarried: NotCarried[];
  /** Fields of carried rows that have no Switchyard equivalent. */
  partial: NotCarried[];
}

/**
 * Columns no row carries, whatever its values: Switchyard has no user logins, and keeps no free-form notes or
 * reference-specific account settings. Printed with every report, so nothing is dropped unsaid.
 */
export const NEVER_CARRIED: readonly string[] = [
  "users: email (used as the name only when there is no username), password_hash, notes",
  "accounts: extra (reference-specific settings)",
];

/**
 * Maps the reference system's rows onto Switchyard's (pure: no I/O). Users are named by username, else email;
 * priorities keep their meaning (lower is preferred in both); keys keep their plaintext with their clients and are
 * carried as hashes. What has no Switchyard equivalent is listed in `notCarried` / `partial`.
 */
export function planImport(data: Sub2apiData, now: number): ImportPlan {
  const plan: ImportPlan = { steps: [], notCarried: [], partial: [] };
  const users = new Map<number, string>();
  for (const u of data.users) {
    const step = planUser(u, plan);
    if (step) users.set(u.id, step.name);
  }
  const groups = new Map<number, string>();
  for (const g of data.groups) {
    const step = planGroup(g, plan);
    if (step) groups.set(g.id, step.name);
  }
  const proxies = new Map(data.proxies.map((p) => [p.id, p]));
  for (const a of data.accounts) planAccount(a, { data, groups, proxies }, plan);
  for (const k of data.apiKeys) planApiKey(k, users, groups, plan);
  for (const s of data.subscriptions) {
    const userName = users.get(s.user_id);
    const groupName = groups.get(s.group_id);
    const name = `${userName ?? `user ${s.user_id}`} → ${groupName ?? `group ${s.group_id}`}`;
    const expiresAt = new Date(s.expires_at);
    if (userName === undefined || groupName === undefined) {
      plan.notCarried.push({ kind: "subscription", name, reason: "its user or group is not carried" });
    } else if (s.status !== "active") {
      plan.notCarried.push({ kind: "subscription", name, reason: `status ${s.status}` });
    } else if (expiresAt.getTime() <= now) {
      plan.notCarried.push({ kind: "subscription", name, reason: "already expired" });
    } else {
      plan.steps.push({
        kind: "subscription",
        name,
        userName,
        groupName,
        startsAt: new Date(s.starts_at),
        expiresAt,
      });
    }
  }
  for (const r of data.rules) planRule(r, plan);
  plan.steps.sort((a, b) => IMPORT_KINDS.indexOf(a.kind) - IMPORT_KINDS.indexOf(b.kind));
  return plan;
}

function planUser(u: Sub2apiUser, plan: ImportPlan): UserPlan | null {
  const name = (u.username ?? "").trim() || (u.email ?? "").trim();
  if (name === "") {
    plan.notCarried.push({ kind: "user", name: `user ${u.id}`, reason: "neither username nor email" });
    return null;
  }
  const balance = Number(u.balance ?? 0);
  if (balance < 0)
    plan.partial.push({ kind: "user", name, reason: `negative balance ${balance} carried as 0` });
  if (Number(u.frozen_balance ?? 0) > 0) {
    plan.partial.push({
      kind: "user",
      name,
      reason: `frozen balance ${Number(u.frozen_balance)} not carried`,
    });
  }
  if (u.role === "admin") {
    plan.partial.push({
      kind: "user",
      name,
      reason: "admin role not carried (Switchyard admins use the admin token)",
    });
  }
  const step: UserPlan = {
    kind: "user",
    name,
    balanceUsd: usd(Math.max(0, balance)),
    concurrency: u.concurrency ?? 5,
    rpmLimit: Math.max(0, u.rpm_limit ?? 0),
    disabled: (u.status ?? "active") !== "active",
  };
  plan.steps.push(step);
  return step;
}

function planGroup(g: Sub2apiGroup, plan: ImportPlan): GroupPlan | null {
  if (g.platform !== OPENAI) {
    plan.notCarried.push({
      kind: "group",
      name: g.name,
      reason: `platform ${g.platform} is not served by Switchyard`,
    });
    return null;
  }
  if ((g.status ?? "active") !== "active") {
    plan.partial.push({
      kind: "group",
      name: g.name,
      reason: `status ${g.status} not carried (groups have none)`,
    });
  }
  const step: GroupPlan = {
    kind: "group",
    name: g.name,
    description: g.description ?? "",
    rateMultiplier: usd(Number(g.rate_multiplier ?? 1)),
    subscription: g.subscription_type === "subscription",
    dailyLimitUsd: limit(g.daily_limit_usd),
    weeklyLimitUsd: limit(g.weekly_limit_usd),
    monthlyLimitUsd: limit(g.monthly_limit_usd),
  };
  plan.steps.push(step);
  return step;
}

function planApiKey(
  k: Sub2apiApiKey,
  users: ReadonlyMap<number, string>,
  groups: ReadonlyMap<number, string>,
  plan: ImportPlan,
): void {
  const prefix = k.key.slice(0, 10);
  const name = `${prefix}… ${k.name ?? ""}`.trim();
  const userName = users.get(k.user_id);
  const groupName = k.group_id === null ? undefined : groups.get(k.group_id);
  if (!looksLikeApiKey(k.key)) {
    plan.notCarried.push({
      kind: "api key",
      name,
      reason: "not a usable key (16–200 visible ASCII characters)",
    });
    return;
  }
  if (userName === undefined) {
    plan.notCarried.push({ kind: "api key", name, reason: "its user is not carried" });
    return;
  }
  if (groupName === undefined) {
    const reason = k.group_id === null ? "it has no group" : "its group is not carried";
    plan.notCarried.push({ kind: "api key", name, reason });
    return;
  }
  const partial = (reason: string) => plan.partial.push({ kind: "api key", name, reason });
  const status = k.status ?? "active";
  const quota = Number(k.quota ?? 0);
  const disabled = status === "disabled" || (status === "quota_exhausted" && quota <= 0);
  if (status === "expired" && k.expires_at === null)
    partial("status expired without expires_at: imported disabled");
  plan.steps.push({
    kind: "api key",
    name,
    keySha256: hashApiKey(k.key),
    prefix,
    keyName: k.name ?? "",
    userName,
    groupName,
    disabled: disabled || (status === "expired" && k.expires_at === null),
    expiresAt: k.expires_at === null ? undefined : new Date(k.expires_at),
    quotaUsd: quota > 0 ? usd(quota) : "",
    quotaUsedUsd: quota > 0 ? usd(Math.max(0, Number(k.quota_used ?? 0))) : "",
    ipAllow: stringList(k.ip_whitelist),
    ipDeny: stringList(k.ip_blacklist),
    spendLimit5hUsd: limit(k.rate_limit_5h),
    spendLimit1dUsd: limit(k.rate_limit_1d),
    spendLimit7dUsd: limit(k.rate_limit_7d),
  });
}

function planRule(r: Sub2apiRule, plan: ImportPlan): void {
  const platforms = stringList(r.platforms);
  if (platforms.length > 0 && !platforms.includes(OPENAI)) {
    plan.notCarried.push({ kind: "rule", name: r.name, reason: `applies only to ${platforms.join(", ")}` });
    return;
  }
  if (platforms.length > 1) {
    plan.partial.push({ kind: "rule", name: r.name, reason: "platforms other than openai dropped" });
  }
  plan.steps.push({
    kind: "rule",
    name: r.name,
    enabled: r.enabled ?? true,
    priority: r.priority ?? 0,
    errorCodes: numberList(r.error_codes),
    keywords: stringList(r.keywords),
    matchAll: r.match_mode === "all",
    platforms: platforms.length > 0 ? [OPENAI] : [],
    passthroughCode: r.passthrough_code ?? true,
    responseCode: r.response_code ?? 0,
    passthroughBody: r.passthrough_body ?? true,
    customMessage: r.custom_message ?? "",
    skipMonitoring: r.skip_monitoring ?? false,
  });
}
