import type { Client } from "@connectrpc/connect";
import type { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";

/** An AdminService client. */
export type Admin = Client<typeof AdminService>;

/** Issued keys of a seeded tenant set; requests spread over them. */
export interface BenchTenants {
  keys: string[];
}

/**
 * The best case the first benchmarks measured: one user without a concurrency limit, one key, `accounts` accounts
 * with a concurrency no benchmark reaches.
 */
export async function seedBestCase(admin: Admin, upstream: string, accounts: number): Promise<BenchTenants> {
  const { user } = await admin.createUser({ name: "bench", balanceUsd: "1000000", concurrency: 0 });
  const { group } = await admin.createGroup({ name: "bench" });
  for (let i = 1; i <= accounts; i++) {
    await admin.createAccount({
      name: `bench-${i}`,
      baseUrl: upstream,
      credential: `sk-bench-${i}`,
      concurrency: 100_000,
      groupIds: [group?.id ?? ""],
    });
  }
  const { key } = await admin.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" });
  return { keys: [key] };
}

/** How an operator's deployment looks (issue "hot-path cost"): users with limits, several keys, limited accounts. */
export interface OperatorShape {
  users: number;
  keysPerUser: number;
  /** User concurrency cycles through these. */
  userConcurrency: readonly number[];
  accounts: number;
  accountConcurrency: number;
}

/** 50 users with concurrency 5–20 and 3 keys each, 4 accounts with concurrency 50, in one group. */
export const OPERATOR_SHAPE: OperatorShape = {
  users: 50,
  keysPerUser: 3,
  userConcurrency: [5, 10, 15, 20],
  accounts: 4,
  accountConcurrency: 50,
};

/** Seeds tenants as an operator configures them; the price table is the default one the control plane seeds. */
export async function seedOperatorTenants(
  admin: Admin,
  upstream: string,
  shape: OperatorShape = OPERATOR_SHAPE,
): Promise<BenchTenants> {
  const { group } = await admin.createGroup({ name: "operators" });
  const groupId = group?.id ?? "";
  for (let i = 1; i <= shape.accounts; i++) {
    await admin.createAccount({
      name: `operator-account-${i}`,
      baseUrl: upstream,
      credential: `sk-operator-${i}`,
      concurrency: shape.accountConcurrency,
      groupIds: [groupId],
    });
  }
  const keys: string[] = [];
  for (let u = 0; u < shape.users; u++) {
    const concurrency = shape.userConcurrency[u % shape.userConcurrency.length] ?? 5;
    const { user } = await admin.createUser({
      name: `operator-user-${u}`,
      balanceUsd: "100000",
      concurrency,
    });
    for (let k = 0; k < shape.keysPerUser; k++) {
      const { key } = await admin.createApiKey({ userId: user?.id ?? "", groupId });
      keys.push(key);
    }
  }
  // Interleave users so consecutive requests come from different users, as independent clients would.
  return { keys: interleave(keys, shape.keysPerUser) };
}

function interleave(keys: string[], perUser: number): string[] {
  const users = keys.length / perUser;
  const out: string[] = [];
  for (let k = 0; k < perUser; k++) for (let u = 0; u < users; u++) out.push(keys[u * perUser + k] ?? "");
  return out;
}

/**
 * The headers of the i-th request over a tenant set: its key in turn, and on every other request a `session_id`
 * (sticky routing, as half of real traffic) naming one of two conversations of that key — a conversation belongs to
 * its user, so its requests come back with the same key.
 */
export function requestHeaders(tenants: BenchTenants, i: number): Record<string, string> {
  const k = i % tenants.keys.length;
  const headers: Record<string, string> = { authorization: `Bearer ${tenants.keys[k] ?? ""}` };
  if (i % 2 === 1) headers.session_id = `conversation-${k}-${Math.floor(i / tenants.keys.length) % 2}`;
  return headers;
}
