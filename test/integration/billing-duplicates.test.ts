import { randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane } from "../../src/control-plane/main.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { GatewayService, type UsageReportSchema } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome, type TokenUsageSchema } from "../../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../src/shared/api-key.js";
import { loadConfig } from "../../src/shared/config.js";
import { newRequestId } from "../../src/shared/ids.js";
import {
  ADMIN_TOKEN,
  DATA_PLANE_TOKEN,
  seedTenant,
  startTestControlPlane,
  testLogger,
} from "../support/control-plane.js";
import { connectClient } from "../support/grpc-clients.js";
import { createTestDatabase } from "../support/test-database.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;
type Admin = ControlPlane["admin"];
type Gateway = ControlPlane["gateway"];
type Tenant = Awaited<ReturnType<typeof seedTenant>>;
type Report = MessageInitShape<typeof UsageReportSchema>;
type Tokens = MessageInitShape<typeof TokenUsageSchema>;

/** A model only this file prices, so the seeded list prices play no part: $3 / $0.30 / $15 per 1M tokens. */
const MODEL = "billing-dup-model";
const PRICE = { model: MODEL, inputUsdPerMtok: "3", cachedInputUsdPerMtok: "0.3", outputUsdPerMtok: "15" };

/**
 * Three reports and what each costs at PRICE:
 *  1000 in (400 cached), 500 out → 600×3 + 400×0.3 + 500×15 = 9420 µUSD
 *  2000 in, 100 out (40 reasoning) → 6000 + 1500 = 7500 µUSD
 *  0 tokens (failed upstream) → 0
 * Σ = 0.01692 USD.
 */
function reports(tenant: Tenant): Report[] {
  const tokens = [
    { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500, reasoningTokens: 0 },
    { inputTokens: 2000, cachedInputTokens: 0, outputTokens: 100, reasoningTokens: 40 },
    { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 },
  ];
  return tokens.map((t, i) => report(tenant, t, i === 2 ? Outcome.FAILED_UPSTREAM : Outcome.COMPLETED));
}
const BATCH_COST = "0.01692";

function report(tenant: Tenant, tokens: Tokens, outcome: Outcome): Report {
  return {
    requestId: newRequestId(),
    leaseId: `lease-${randomBytes(4).toString("hex")}`,
    principal: { userId: tenant.user.id, keyId: tenant.keyId, groupId: tenant.group.id },
    accountId: tenant.accounts[0]?.id ?? "",
    requestedModel: MODEL,
    upstreamModel: MODEL,
    endpoint: Endpoint.RESPONSES,
    stream: true,
    tokens,
    outcome,
    statusCode: outcome === Outcome.COMPLETED ? 200 : 502,
    firstTokenMs: 10,
    durationMs: 100,
    failoverCount: 0,
    upstreamRequestId: "",
    startedAtMs: BigInt(Date.now()),
  };
}

/** What billing shows for a tenant: its records (by request id), the user's balance and the key's quota used. */
async function ledgerOf(admin: Admin, tenant: Tenant) {
  const { records } = await admin.listUsage({ userId: tenant.user.id, pageSize: 500 });
  const { user } = await admin.getUser({ id: tenant.user.id });
  const { apiKey } = await admin.getApiKey({ id: tenant.keyId });
  return {
    records: records
      .map((r) => ({ requestId: r.requestId, tokens: r.tokens, cost: r.totalCostUsd, outcome: r.outcome }))
      .sort((a, b) => (a.requestId < b.requestId ? -1 : 1)),
    balance: user?.balanceUsd,
    quotaUsed: apiKey?.quotaUsedUsd,
  };
}

/** A fresh database and the config of a control plane on it (one replica, live state in memory). */
async function databaseWithConfig(label: string) {
  const db = await createTestDatabase(label);
  const config = loadConfig({
    SWITCHYARD_DATABASE_URL: db.url,
    SWITCHYARD_REDIS_URL: "",
    SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_DATA_PLANE_TOKEN: DATA_PLANE_TOKEN,
    SWITCHYARD_CONTROL_PLANE_LISTEN: "127.0.0.1:0",
  });
  return { db, config };
}

/** A control plane started from `config`: starting it again on the same database is a restart. */
async function controlPlaneOn(config: ReturnType<typeof loadConfig>) {
  const running = await startControlPlane(config, testLogger());
  const admin = connectClient(AdminService, running.url, { protocol: "grpc", token: ADMIN_TOKEN });
  const gateway = connectClient(GatewayService, running.url, { protocol: "grpc", token: DATA_PLANE_TOKEN });
  return {
    admin: admin.client as Admin,
    gateway: gateway.client as Gateway,
    async stop() {
      admin.close();
      gateway.close();
      await running.close();
    },
  };
}

describe("duplicate usage reports", () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane("billing_dups");
    await cp.admin.setModelPrice({ price: PRICE });
  });
  afterAll(() => cp?.stop());

  it("bills the principal, account and model the lease ticket carries, and refuses a ticket that does not open", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "10" });
    const other = await seedTenant(cp.admin, { balanceUsd: "10" });
    const headers = { headers: { "x-switchyard-instance": "dp-billing" } };
    const admit = async () => {
      const requestId = newRequestId();
      const { lease } = await cp.gateway.admit(
        { requestId, keySha256: hashApiKey(tenant.key), model: MODEL, endpoint: Endpoint.RESPONSES },
        headers,
      );
      await cp.gateway.release({ leaseId: lease?.leaseId ?? "" });
      return { requestId, leaseId: lease?.leaseId ?? "", ticket: lease?.ticket ?? new Uint8Array() };
    };
    const tokens = { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500, reasoningTokens: 0 };

    // The report names another user, key and account: the ticket's identity is billed.
    const honest = await admit();
    const forged = {
      ...report(other, tokens, Outcome.COMPLETED),
      requestId: honest.requestId,
      leaseId: honest.leaseId,
      leaseTicket: honest.ticket,
    };
    expect(await cp.gateway.reportUsage({ records: [forged] })).toMatchObject({ recorded: 1 });
    const billed = await ledgerOf(cp.admin, tenant);
    expect(billed.records.map((r) => [r.requestId, r.cost])).toEqual([[honest.requestId, "0.00942"]]);
    expect((await ledgerOf(cp.admin, other)).records).toEqual([]);
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    expect(records[0]).toMatchObject({ keyId: tenant.keyId, accountId: tenant.accounts[0]?.id });

    // A ticket altered by one byte, or one for another request, is refused: nothing is billed.
    const next = await admit();
    const tampered = Uint8Array.from(next.ticket);
    tampered[5] = (tampered[5] ?? 0) ^ 1;
    const refused = [
      {
        ...report(tenant, tokens, Outcome.COMPLETED),
        requestId: next.requestId,
        leaseId: next.leaseId,
        leaseTicket: tampered,
      },
      { ...report(tenant, tokens, Outcome.COMPLETED), leaseId: next.leaseId, leaseTicket: next.ticket },
    ];
    expect(await cp.gateway.reportUsage({ records: refused })).toMatchObject({ recorded: 0, duplicates: 2 });
    expect((await ledgerOf(cp.admin, tenant)).records).toHaveLength(1);
  });

  it("leave records, balance and key quota unchanged when the same batch is sent twice", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "10" });
    const batch = reports(tenant);

    const first = await cp.gateway.reportUsage({ records: batch });
    const afterFirst = await ledgerOf(cp.admin, tenant);
    const second = await cp.gateway.reportUsage({ records: batch });
    const afterSecond = await ledgerOf(cp.admin, tenant);

    expect([first.recorded, first.duplicates]).toEqual([3, 0]);
    expect([second.recorded, second.duplicates]).toEqual([0, 3]);
    expect(afterFirst.records.map((r) => r.requestId)).toEqual(batch.map((r) => r.requestId).sort());
    expect(afterFirst.records.map((r) => r.cost).sort()).toEqual(["0", "0.0075", "0.00942"]);
    expect(afterFirst.balance).toBe("9.98308");
    expect(afterFirst.quotaUsed).toBe(BATCH_COST);
    expect(afterSecond).toEqual(afterFirst);
  });

  it("bill one batch of several users that names a request twice: every request once, each user its own", async () => {
    const [one, two] = await Promise.all([
      seedTenant(cp.admin, { balanceUsd: "10" }),
      seedTenant(cp.admin, { balanceUsd: "10" }),
    ]);
    const ofOne = reports(one);
    const batch = [...ofOne, ...reports(two), ofOne[1] as (typeof ofOne)[number]];

    const answer = await cp.gateway.reportUsage({ records: batch });

    expect([answer.recorded, answer.duplicates]).toEqual([6, 1]);
    for (const tenant of [one, two]) {
      const after = await ledgerOf(cp.admin, tenant);
      expect(after.records).toHaveLength(3);
      expect(after.balance).toBe("9.98308");
      expect(after.quotaUsed).toBe(BATCH_COST);
    }
  });

  it("bill a batch once when two data planes retry it at the same moment", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "10" });
    const batch = reports(tenant);

    const answers = await Promise.all([1, 2, 3].map(() => cp.gateway.reportUsage({ records: batch })));
    const after = await ledgerOf(cp.admin, tenant);

    expect(answers.reduce((n, a) => n + a.recorded, 0)).toBe(3);
    expect(answers.reduce((n, a) => n + a.duplicates, 0)).toBe(6);
    expect(after.records).toHaveLength(3);
    expect(after.balance).toBe("9.98308");
    expect(after.quotaUsed).toBe(BATCH_COST);
  });
});

describe("a usage report retried after a control-plane restart", () => {
  it("is recorded and billed once; a new record in the same retried batch still is", async () => {
    const { db, config } = await databaseWithConfig("billing_restart");
    const before = await controlPlaneOn(config);
    let running: typeof before | null = before;
    try {
      await before.admin.setModelPrice({ price: PRICE });
      const tenant = await seedTenant(before.admin, { balanceUsd: "10" });
      const batch = reports(tenant);
      const first = await before.gateway.reportUsage({ records: batch });
      const billed = await ledgerOf(before.admin, tenant);
      running = null;
      await before.stop();

      const after = await controlPlaneOn(config);
      running = after;
      const retried = await after.gateway.reportUsage({ records: batch });
      const unchanged = await ledgerOf(after.admin, tenant);
      const extra = report(
        tenant,
        { inputTokens: 100, cachedInputTokens: 0, outputTokens: 10, reasoningTokens: 0 },
        Outcome.COMPLETED,
      );
      const mixed = await after.gateway.reportUsage({ records: [...batch, extra] });
      const grown = await ledgerOf(after.admin, tenant);

      expect([first.recorded, first.duplicates]).toEqual([3, 0]);
      expect([retried.recorded, retried.duplicates]).toEqual([0, 3]);
      expect(unchanged).toEqual(billed);
      expect(billed.balance).toBe("9.98308");
      // 100×3 + 10×15 = 450 µUSD for the new record only.
      expect([mixed.recorded, mixed.duplicates]).toEqual([1, 3]);
      expect(grown.records).toHaveLength(4);
      expect(grown.balance).toBe("9.98263");
      expect(grown.quotaUsed).toBe("0.01737");
    } finally {
      await running?.stop();
      await db.drop();
    }
  });
});
