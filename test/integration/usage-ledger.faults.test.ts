import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LeaseChannel } from "../../src/data-plane/control/lease-channel.js";
import type { Lease } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { dataPlaneChannel, seedTenant, startTestControlPlane } from "../support/control-plane.js";
import { admitOf, usageReportOf } from "../support/gateway-requests.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;
type Tenant = Awaited<ReturnType<typeof seedTenant>>;

describe("the usage ledger when things go wrong", () => {
  let cp: ControlPlane;
  let dp: LeaseChannel;

  beforeAll(async () => {
    cp = await startTestControlPlane("ledger_faults", { leaseTtlMs: 1_200 });
    dp = dataPlaneChannel(cp.url, "dp-ledger");
    await dp.waitConnected(5_000);
  });
  afterAll(async () => {
    await dp?.close();
    await cp?.stop();
  });

  const balanceOf = async (tenant: Tenant) =>
    (await cp.admin.getUser({ id: tenant.user.id })).user?.balanceUsd;
  const recordOf = async (tenant: Tenant, requestId: string) =>
    (await cp.admin.listUsage({ userId: tenant.user.id })).records.find((r) => r.requestId === requestId);

  it("replaces the abandoned record of a lease that expired while its data plane was cut off, billing it once", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "10" });
    const admit = admitOf(tenant.key);
    const { lease } = await dp.call("admit", admit, { timeoutMs: 5_000 });
    if (!lease) throw new Error("no lease");
    // No renewal: the lease expires and the control plane writes it off as abandoned, with no tokens.
    await expect
      .poll(async () => (await recordOf(tenant, admit.requestId))?.outcome, { timeout: 15_000 })
      .toBe(Outcome.ABANDONED);
    expect(await balanceOf(tenant)).toBe("10");

    // The data plane gets through again with what the upstream really used.
    const report = usageReportOf(admit.requestId, lease, { inputTokens: 1_000_000, outputTokens: 100_000 });
    const first = await dp.call("reportUsage", { records: [report] }, { timeoutMs: 5_000 });
    expect(first.recorded).toBe(1);
    const replaced = await recordOf(tenant, admit.requestId);
    expect(replaced).toMatchObject({ outcome: Outcome.COMPLETED, statusCode: 200, totalCostUsd: "3.5" });
    expect(replaced?.tokens).toMatchObject({ inputTokens: 1_000_000, outputTokens: 100_000 });
    expect(await balanceOf(tenant)).toBe("6.5");

    const again = await dp.call("reportUsage", { records: [report] }, { timeoutMs: 5_000 });
    expect([again.recorded, again.duplicates]).toEqual([0, 1]);
    expect(await balanceOf(tenant)).toBe("6.5");
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    expect(records.filter((r) => r.requestId === admit.requestId)).toHaveLength(1);
  });

  it("keeps a record whose token counts are absurd (as 0, flagged, counted) and the rest of its batch", async () => {
    const tenant = await seedTenant(cp.admin, { balanceUsd: "10" });
    const admits = [admitOf(tenant.key), admitOf(tenant.key), admitOf(tenant.key)];
    const leases: Lease[] = [];
    for (const admit of admits) {
      const { lease } = await dp.call("admit", admit, { timeoutMs: 5_000 });
      if (!lease) throw new Error("no lease");
      leases.push(lease);
      await dp.call("release", { leaseId: lease.leaseId, outcome: Outcome.COMPLETED }, { timeoutMs: 5_000 });
    }
    const [a, b, c] = admits.map((admit, i) => ({ admit, lease: leases[i] as Lease }));
    if (!a || !b || !c) throw new Error("unreachable");
    // 3e9 is a valid uint32 on the wire but no PostgreSQL integer; it used to fail the whole batch, forever.
    const result = await dp.call(
      "reportUsage",
      {
        records: [
          usageReportOf(a.admit.requestId, a.lease, { inputTokens: 1_000_000 }),
          usageReportOf(b.admit.requestId, b.lease, { inputTokens: 1_000, outputTokens: 3_000_000_000 }),
          usageReportOf(
            c.admit.requestId,
            c.lease,
            { inputTokens: 1_000_000 },
            { durationMs: 4_294_967_295 },
          ),
        ],
      },
      { timeoutMs: 5_000 },
    );
    expect(result.recorded).toBe(3);
    const absurd = await recordOf(tenant, b.admit.requestId);
    expect(absurd?.usageOutOfRange).toBe(true);
    expect(absurd?.tokens).toMatchObject({ inputTokens: 1_000, outputTokens: 0 });
    expect((await recordOf(tenant, a.admit.requestId))?.usageOutOfRange).toBe(false);
    expect((await recordOf(tenant, c.admit.requestId))?.totalCostUsd).toBe("2.5");
    // $2.50 + $0.0025 + $2.50
    expect(await balanceOf(tenant)).toBe("4.9975");
    const metrics = await (await fetch(`${cp.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_usage_out_of_range_total 1$/m);
  });
});
