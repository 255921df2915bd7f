import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LeaseChannel } from "../../src/data-plane/control/lease-channel.js";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { ManualClock } from "../../src/shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { dataPlaneChannel, seedTenant, startTestControlPlane } from "../support/control-plane.js";
import { admitOf, usageReportOf } from "../support/gateway-requests.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => (e instanceof SwitchyardError ? e.code : e),
  );

/** PostgreSQL goes away (every connection to it drops, new ones fail) while Redis and the control plane stay. */
describe("the hot path while PostgreSQL is away", () => {
  const clock = new ManualClock(Date.now());
  let pg: TcpProxy;
  let cp: Awaited<ReturnType<typeof startTestControlPlane>>;
  let dp: LeaseChannel;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;

  beforeAll(async () => {
    pg = await startTcpProxy(5432);
    cp = await startTestControlPlane("db_outage", {
      databaseUrl: (url) => url.replace("127.0.0.1:5432", `127.0.0.1:${pg.port}`),
      overrides: { clock },
    });
    dp = dataPlaneChannel(cp.url, "dp-db-outage");
    await dp.waitConnected(5_000);
    tenant = await seedTenant(cp.admin, { balanceUsd: "10", userConcurrency: 5 });
  });
  afterAll(async () => {
    await dp?.close();
    pg?.restore();
    await cp?.stop();
    await pg?.close();
  });

  /** One request's lease: admit, release, and the usage it reports. */
  async function serve(key: string) {
    const admit = admitOf(key, false);
    const { lease } = await dp.call("admit", admit, { timeoutMs: 10_000 });
    if (!lease) throw new Error("no lease");
    await dp.call("release", { leaseId: lease.leaseId, outcome: Outcome.COMPLETED }, { timeoutMs: 10_000 });
    return usageReportOf(
      admit.requestId,
      lease,
      { inputTokens: 1_000, outputTokens: 100 },
      { startedAtMs: clock.now() },
    );
  }

  it("keeps admitting known keys, refuses unknown ones with 503, and bills what was served once it is back", async () => {
    // A billed request before the outage: billing must not have emptied the key cache.
    const billed = await serve(tenant.key);
    expect((await dp.call("reportUsage", { records: [billed] }, { timeoutMs: 10_000 })).recorded).toBe(1);

    pg.cut();
    const during: ReturnType<typeof usageReportOf>[] = [];
    for (let i = 0; i < 5; i++) {
      during.push(await serve(tenant.key));
      clock.advance(20_000); // past any cache age: the record is read again, fails, and the last one is served
    }
    expect(await codeOf(dp.call("admit", admitOf("sk-sy-never-issued", false), { timeoutMs: 10_000 }))).toBe(
      ErrorCode.STORE_UNAVAILABLE,
    );
    expect(await codeOf(dp.call("reportUsage", { records: during }, { timeoutMs: 10_000 }))).toBe(
      ErrorCode.STORE_UNAVAILABLE,
    );

    pg.restore();
    await expect
      .poll(async () => (await dp.call("reportUsage", { records: during }, { timeoutMs: 10_000 })).recorded, {
        timeout: 15_000,
      })
      .toBe(5);
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    expect(records).toHaveLength(6);
    // 6 × (1,000 × $2.50 + 100 × $10) / 1M = 6 × $0.0035
    expect((await cp.admin.getUser({ id: tenant.user.id })).user?.balanceUsd).toBe("9.979");
  });
});
