import { randomBytes } from "node:crypto";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  type Account,
  type AdminService,
  BillingMode,
  type LeaseInfo,
  type UsageRecord,
} from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { FakeOpenAI } from "../../support/fake-openai/index.js";
import { waitFor } from "./conditions.js";
import { registerSecrets } from "./run-folder.js";

/** An AdminService client. */
export type Admin = Client<typeof AdminService>;

/** One upstream account of a tenant: its id and the credential the fake sees as the bearer key. */
export interface TenantAccount {
  id: string;
  credential: string;
}

/** A user with a group, accounts and an issued API key. */
export interface Tenant {
  userId: string;
  groupId: string;
  keyId: string;
  /** The issued `sk-sy-…` key. */
  key: string;
  accounts: TenantAccount[];
}

/** Options of {@link seedTenant}. */
export interface TenantOptions {
  /** Where every account of the tenant points: give a tenant its own fake to count its streams there. */
  fake: FakeOpenAI;
  userConcurrency?: number;
  balanceUsd?: string;
  accounts?: Array<{ concurrency?: number; priority?: number }>;
}

/**
 * Creates a tenant through AdminService (balance billing). Its key and upstream credentials are registered as run
 * secrets, so the log scan proves no process printed them.
 */
export async function seedTenant(admin: Admin, options: TenantOptions): Promise<Tenant> {
  const tag = randomBytes(4).toString("hex");
  const { user } = await admin.createUser({
    name: `user-${tag}`,
    balanceUsd: options.balanceUsd ?? "100",
    concurrency: options.userConcurrency ?? 5,
  });
  const { group } = await admin.createGroup({ name: `group-${tag}`, billingMode: BillingMode.BALANCE });
  if (!user || !group) throw new Error("seeding failed");
  const accounts: TenantAccount[] = [];
  for (const [i, a] of (options.accounts ?? [{}]).entries()) {
    const credential = `sk-upstream-${randomBytes(12).toString("hex")}`;
    registerSecrets({ [`upstream credential ${tag}-${i}`]: credential });
    const { account } = await admin.createAccount({
      name: `account-${tag}-${i}`,
      baseUrl: options.fake.url,
      credential,
      concurrency: a.concurrency ?? 10,
      priority: a.priority ?? 50,
      groupIds: [group.id],
    });
    if (!account) throw new Error("seeding failed");
    accounts.push({ id: account.id, credential });
  }
  const { key, apiKey } = await admin.createApiKey({ userId: user.id, groupId: group.id });
  if (!apiKey) throw new Error("seeding failed");
  registerSecrets({ [`api key ${tag}`]: key });
  return { userId: user.id, groupId: group.id, keyId: apiKey.id, key, accounts };
}

/** Every usage record of a user (all pages), newest first. */
export async function listUsage(admin: Admin, userId: string): Promise<UsageRecord[]> {
  const records: UsageRecord[] = [];
  let pageToken = "";
  do {
    const page = await admin.listUsage({ userId, pageSize: 500, pageToken });
    records.push(...page.records);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return records;
}

/** Polls a user's usage records until `ready` holds; returns them (rejects after `timeoutMs`). */
export function waitForUsage(
  admin: Admin,
  userId: string,
  ready: (records: UsageRecord[]) => boolean,
  timeoutMs = 15_000,
): Promise<UsageRecord[]> {
  let last: UsageRecord[] = [];
  return waitFor(
    async () => {
      last = await listUsage(admin, userId);
      return ready(last) ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 200,
      what: `usage records of ${userId}`,
      detail: () => `have: ${last.map((r) => `${r.requestId} outcome=${r.outcome}`).join(", ")}`,
    },
  );
}

/** The live leases of a user. */
export async function listLeases(admin: Admin, userId: string): Promise<LeaseInfo[]> {
  const { leases } = await admin.listLeases({ userId, limit: 1000 });
  return leases;
}

/** Epoch milliseconds of a protobuf Timestamp; null when unset. */
export function epochMs(t: Timestamp | undefined): number | null {
  return t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : null;
}

/** An account as AdminService shows it, with its cooldowns as epoch milliseconds (null: none). */
export async function accountState(
  admin: Admin,
  id: string,
): Promise<{ account: Account; rateLimitedUntil: number | null; tempUnschedulableUntil: number | null }> {
  const { account } = await admin.getAccount({ id });
  if (!account) throw new Error(`no account ${id}`);
  return {
    account,
    rateLimitedUntil: epochMs(account.rateLimitedUntil),
    tempUnschedulableUntil: epochMs(account.tempUnschedulableUntil),
  };
}
