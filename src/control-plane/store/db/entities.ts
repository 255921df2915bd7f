import { defineEntity, type InferEntity, p } from "@mikro-orm/core";

/**
 * The durable schema. Money columns are numeric(24,12) read as strings (see src/shared/money.ts); times are
 * timestamptz. Ids are UUIDs assigned by the application (so they exist before flush). The SQL that creates these
 * tables is in ./migrations; a test checks that the two agree.
 */

const money = () => p.decimal().columnType("numeric(24,12)");
const moneyOrNull = () => p.decimal().columnType("numeric(24,12)").nullable();
const instant = () => p.datetime().columnType("timestamptz");
const instantOrNull = () => p.datetime().columnType("timestamptz").nullable();

export const UserEntity = defineEntity({
  name: "User",
  tableName: "users",
  properties: {
    id: p.uuid().primary(),
    name: p.text().unique(),
    status: p.text(),
    balanceUsd: money(),
    concurrency: p.integer(),
    rpmLimit: p.integer().default(0),
    createdAt: instant(),
    updatedAt: instant(),
  },
});
export type User = InferEntity<typeof UserEntity>;

export const GroupEntity = defineEntity({
  name: "Group",
  tableName: "groups",
  properties: {
    id: p.uuid().primary(),
    name: p.text().unique(),
    description: p.text(),
    rateMultiplier: p.decimal().columnType("numeric(12,6)"),
    billingMode: p.text(),
    dailyLimitUsd: moneyOrNull(),
    weeklyLimitUsd: moneyOrNull(),
    monthlyLimitUsd: moneyOrNull(),
    createdAt: instant(),
    updatedAt: instant(),
  },
});
export type Group = InferEntity<typeof GroupEntity>;

export const ApiKeyEntity = defineEntity({
  name: "ApiKey",
  tableName: "api_keys",
  properties: {
    id: p.uuid().primary(),
    keySha256: p.blob().columnType("bytea").unique(),
    prefix: p.text(),
    name: p.text(),
    userId: p.uuid().index(),
    groupId: p.uuid().index(),
    status: p.text(),
    expiresAt: instantOrNull(),
    quotaUsd: moneyOrNull(),
    quotaUsedUsd: money(),
    ipAllow: p.json<string[]>().columnType("jsonb").default("[]"),
    ipDeny: p.json<string[]>().columnType("jsonb").default("[]"),
    spendLimit5hUsd: moneyOrNull().fieldName("spend_limit_5h_usd"),
    spendLimit1dUsd: moneyOrNull().fieldName("spend_limit_1d_usd"),
    spendLimit7dUsd: moneyOrNull().fieldName("spend_limit_7d_usd"),
    lastUsedAt: instantOrNull(),
    createdAt: instant(),
    updatedAt: instant(),
  },
});
export type ApiKey = InferEntity<typeof ApiKeyEntity>;

/** One usage window of a subscription account as last reported (epoch ms instants). */
export interface UsageWindowRecord {
  usedPercent: number;
  windowMinutes: number;
  resetsAt: number;
  reportedAt: number;
}

/** A subscription account's usage windows: the short (~5 h) and the long (~7 days) one. */
export interface UsageWindowsRecord {
  primary: UsageWindowRecord | null;
  secondary: UsageWindowRecord | null;
}

/** An account's failure history, used to escalate penalties (5xx streaks, repeated 403s). */
export interface AccountHealthRecord {
  serverErrorStreak: number;
  lastServerErrorAt: number | null;
  forbiddenAt: number[];
}

export const AccountEntity = defineEntity({
  name: "Account",
  tableName: "accounts",
  properties: {
    id: p.uuid().primary(),
    name: p.text().unique(),
    platform: p.text(),
    type: p.text(),
    baseUrl: p.text(),
    credentialCiphertext: p.text(),
    credentialKeyId: p.text(),
    proxyUrl: p.text(),
    concurrency: p.integer(),
    priority: p.integer(),
    modelMapping: p.json<Record<string, string>>().columnType("jsonb"),
    groupIds: p.json<string[]>().columnType("jsonb"),
    status: p.text(),
    schedulable: p.boolean(),
    rateLimitedUntil: instantOrNull(),
    overloadedUntil: instantOrNull(),
    tempUnschedulableUntil: instantOrNull(),
    statusReason: p.text(),
    health: p.json<AccountHealthRecord>().columnType("jsonb"),
    lastUsedAt: instantOrNull(),
    createdAt: instant(),
    updatedAt: instant(),
    /** OAuth accounts: expiry of the sealed access token. */
    credentialExpiresAt: instantOrNull(),
    usageWindows: p.json<UsageWindowsRecord>().columnType("jsonb").nullable(),
  },
});
export type Account = InferEntity<typeof AccountEntity>;

export const PassthroughRuleEntity = defineEntity({
  name: "PassthroughRule",
  tableName: "passthrough_rules",
  properties: {
    id: p.uuid().primary(),
    name: p.text().unique(),
    enabled: p.boolean(),
    priority: p.integer(),
    errorCodes: p.json<number[]>().columnType("jsonb"),
    keywords: p.json<string[]>().columnType("jsonb"),
    matchMode: p.text(),
    platforms: p.json<string[]>().columnType("jsonb"),
    passthroughCode: p.boolean(),
    responseCode: p.integer(),
    passthroughBody: p.boolean(),
    customMessage: p.text(),
    skipMonitoring: p.boolean(),
    description: p.text(),
    createdAt: instant(),
    updatedAt: instant(),
  },
});
export type PassthroughRule = InferEntity<typeof PassthroughRuleEntity>;

export const ModelPriceEntity = defineEntity({
  name: "ModelPrice",
  tableName: "model_prices",
  properties: {
    model: p.text().primary(),
    inputUsdPerMtok: money(),
    cachedInputUsdPerMtok: money(),
    outputUsdPerMtok: money(),
    updatedAt: instant(),
  },
});
export type ModelPrice = InferEntity<typeof ModelPriceEntity>;

export const SubscriptionEntity = defineEntity({
  name: "Subscription",
  tableName: "subscriptions",
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid().index(),
    groupId: p.uuid().index(),
    status: p.text(),
    startsAt: instant(),
    expiresAt: instant(),
    createdAt: instant(),
    updatedAt: instant(),
  },
});
export type Subscription = InferEntity<typeof SubscriptionEntity>;

export const UsageRecordEntity = defineEntity({
  name: "UsageRecord",
  tableName: "usage_records",
  indexes: [
    {
      name: "usage_records_subscription_id_created_at_index",
      expression:
        'create index "usage_records_subscription_id_created_at_index" on "usage_records" ("subscription_id", "created_at") include ("total_cost_usd") where "subscription_id" is not null',
    },
    {
      name: "usage_records_key_id_created_at_index",
      expression:
        'create index "usage_records_key_id_created_at_index" on "usage_records" ("key_id", "created_at") include ("total_cost_usd")',
    },
  ],
  properties: {
    requestId: p.text().primary(),
    leaseId: p.text(),
    userId: p.uuid().index(),
    keyId: p.uuid().index(),
    groupId: p.uuid(),
    accountId: p.uuid().nullable().index(),
    subscriptionId: p.uuid().nullable(),
    requestedModel: p.text(),
    upstreamModel: p.text(),
    endpoint: p.text(),
    stream: p.boolean(),
    inputTokens: p.integer(),
    cachedInputTokens: p.integer(),
    outputTokens: p.integer(),
    reasoningTokens: p.integer(),
    inputCostUsd: money(),
    cachedInputCostUsd: money(),
    outputCostUsd: money(),
    rateMultiplier: p.decimal().columnType("numeric(12,6)"),
    totalCostUsd: money(),
    outcome: p.text(),
    statusCode: p.integer(),
    firstTokenMs: p.integer(),
    durationMs: p.integer(),
    failoverCount: p.integer(),
    upstreamRequestId: p.text(),
    usageOutOfRange: p.boolean().default(false),
    clientIp: p.text().default(""),
    userAgent: p.text().default(""),
    createdAt: instant().index(),
  },
});
export type UsageRecord = InferEntity<typeof UsageRecordEntity>;

export const SettingEntity = defineEntity({
  name: "Setting",
  tableName: "settings",
  properties: {
    key: p.text().primary(),
    value: p.json<unknown>().columnType("jsonb"),
    updatedAt: instant(),
  },
});
export type Setting = InferEntity<typeof SettingEntity>;

/** Every entity, for the ORM configuration. */
export const ENTITIES = [
  UserEntity,
  GroupEntity,
  ApiKeyEntity,
  AccountEntity,
  PassthroughRuleEntity,
  ModelPriceEntity,
  SubscriptionEntity,
  UsageRecordEntity,
  SettingEntity,
];
