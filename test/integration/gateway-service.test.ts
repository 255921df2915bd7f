import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LeaseChannel, OperationRequest } from "../../src/data-plane/control/lease-channel.js";
import { UpstreamFailureKind, UsageReportSchema } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../src/shared/api-key.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { newRequestId } from "../../src/shared/ids.js";
import { dataPlaneChannel, seedTenant, startTestControlPlane } from "../support/control-plane.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;

const admitOf = (key: string, extra: Partial<OperationRequest<"admit">> = {}) =>
  ({
    requestId: newRequestId(),
    keySha256: hashApiKey(key),
    model: "gpt-4o",
    stream: true,
    endpoint: Endpoint.RESPONSES,
    ...extra,
  }) as OperationRequest<"admit">;

const release = (leaseId: string, extra: Partial<OperationRequest<"release">> = {}) =>
  ({ leaseId, outcome: Outcome.COMPLETED, upstreamStatus: 200, ...extra }) as OperationRequest<"release">;

const failureCode = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => (e instanceof SwitchyardError ? e.code : e),
  );

describe("GatewayService through real HTTP/2, Redis and PostgreSQL", () => {
  let cp: ControlPlane;
  let dp1: LeaseChannel;
  let dp2: LeaseChannel;

  beforeAll(async () => {
    cp = await startTestControlPlane("gateway", { leaseTtlMs: 1_200 });
    dp1 = dataPlaneChannel(cp.url, "dp-1");
    dp2 = dataPlaneChannel(cp.url, "dp-2");
    await Promise.all([dp1.waitConnected(5_000), dp2.waitConnected(5_000)]);
  });
  afterAll(async () => {
    await dp1?.close();
    await dp2?.close();
    await cp?.stop();
  });

  it("never lets two racing data planes hold more than the user's concurrency, and serves every request", async () => {
    const tenant = await seedTenant(cp.admin, { userConcurrency: 2, accounts: [{ concurrency: 10 }] });
    let live = 0;
    let maxLive = 0;
    const run = async (dp: LeaseChannel) => {
      const { lease } = await dp.call("admit", admitOf(tenant.key), { timeoutMs: 20_000 });
      live++;
      maxLive = Math.max(maxLive, live);
      await new Promise((r) => setTimeout(r, 20));
      live--;
      await dp.call("release", release(lease?.leaseId ?? ""), { timeoutMs: 5_000 });
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => run(i % 2 === 0 ? dp1 : dp2)));
    expect(maxLive).toBe(2);
    const { leases } = await cp.admin.listLeases({ userId: tenant.user.id });
    expect(leases).toEqual([]);
  });

  it("releases by ticket without the record, answers false the second time, and falls back when a ticket does not open", async () => {
    const tenant = await seedTenant(cp.admin, { userConcurrency: 1, accounts: [{ concurrency: 1 }] });
    // Both slots have room for one: an admit that does not wait is granted only once the last lease freed them.
    const admitNow = () => dp1.call("admit", admitOf(tenant.key, { maxWaitMs: 1 }), { timeoutMs: 5_000 });
    const first = (await admitNow()).lease;
    const ticket = first?.ticket ?? new Uint8Array();
    expect(ticket.length).toBeGreaterThan(0);
    const released = await dp1.call("release", release(first?.leaseId ?? "", { ticket }), {
      timeoutMs: 5_000,
    });
    expect(released.released).toBe(true);
    const again = await dp1.call("release", release(first?.leaseId ?? "", { ticket }), { timeoutMs: 5_000 });
    expect(again.released).toBe(false);

    const second = (await admitNow()).lease;
    const tampered = Uint8Array.from(second?.ticket ?? []);
    tampered[3] = (tampered[3] ?? 0) ^ 1;
    const byRecord = await dp1.call("release", release(second?.leaseId ?? "", { ticket: tampered }), {
      timeoutMs: 5_000,
    });
    expect(byRecord.released).toBe(true);
    const third = (await admitNow()).lease;
    await dp1.call("release", release(third?.leaseId ?? "", { ticket: third?.ticket }), { timeoutMs: 5_000 });
    expect((await cp.admin.listLeases({ userId: tenant.user.id })).leases).toEqual([]);
  });

  it("writes the usage record a release carries before answering, once, billed to the lease's owner", async () => {
    const tenant = await seedTenant(cp.admin, { userConcurrency: 2, accounts: [{ concurrency: 2 }] });
    const admit = admitOf(tenant.key, { stream: false });
    const { lease } = await dp1.call("admit", admit, { timeoutMs: 5_000 });
    const usage = create(UsageReportSchema, {
      requestId: admit.requestId,
      leaseId: lease?.leaseId ?? "",
      leaseTicket: lease?.ticket ?? new Uint8Array(),
      requestedModel: "gpt-4o",
      endpoint: Endpoint.RESPONSES,
      outcome: Outcome.COMPLETED,
      statusCode: 200,
      tokens: { inputTokens: 1_000, outputTokens: 500 },
      startedAtMs: BigInt(Date.now()),
    });
    const answer = await dp1.call(
      "release",
      release(lease?.leaseId ?? "", { ticket: lease?.ticket ?? new Uint8Array(), usage }),
      { timeoutMs: 5_000 },
    );
    expect([answer.released, answer.usageRecorded]).toEqual([true, true]);
    // Answered once written: the record is there now, not eventually.
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    expect(records.map((r) => [r.requestId, r.outcome, r.keyId])).toEqual([
      [admit.requestId, Outcome.COMPLETED, tenant.keyId],
    ]);
    expect(Number(records[0]?.totalCostUsd ?? 0)).toBeGreaterThan(0);

    // Sent again (its data plane never saw the answer): the lease has ended, the record is not written twice.
    const resent = await dp1.call(
      "release",
      release(lease?.leaseId ?? "", { ticket: lease?.ticket ?? new Uint8Array(), usage }),
      { timeoutMs: 5_000 },
    );
    expect([resent.released, resent.usageRecorded]).toEqual([false, true]);
    expect((await cp.admin.listUsage({ userId: tenant.user.id })).records).toHaveLength(1);
  });

  it("gives a lease that stopped renewing to the next waiter after the TTL, and records it as abandoned", async () => {
    const tenant = await seedTenant(cp.admin, { userConcurrency: 1 });
    const silent = admitOf(tenant.key);
    const { lease: first } = await dp1.call("admit", silent, { timeoutMs: 5_000 });
    expect(first?.target?.credential).toMatch(/^sk-upstream-/);
    const listed = await cp.admin.listLeases({ userId: tenant.user.id });
    expect(listed.leases.map((l) => [l.leaseId, l.instanceId])).toEqual([[first?.leaseId, "dp-1"]]);

    const started = Date.now();
    const { lease: next } = await dp2.call("admit", admitOf(tenant.key), { timeoutMs: 10_000 });
    const waited = Date.now() - started;
    expect(next?.leaseId).not.toBe(first?.leaseId);
    expect(waited).toBeGreaterThan(700);
    expect(waited).toBeLessThan(4_000);
    await dp2.call("release", release(next?.leaseId ?? ""), { timeoutMs: 5_000 });

    await expect
      .poll(
        async () => (await cp.admin.listUsage({ userId: tenant.user.id })).records.map((r) => r.requestId),
        {
          timeout: 8_000,
        },
      )
      .toContain(silent.requestId);
    const { records } = await cp.admin.listUsage({ userId: tenant.user.id });
    expect(records.find((r) => r.requestId === silent.requestId)?.outcome).toBe(Outcome.ABANDONED);
  });

  it("denies the next admit within a second of revoking the key", async () => {
    const tenant = await seedTenant(cp.admin);
    const { lease } = await dp1.call("admit", admitOf(tenant.key), { timeoutMs: 5_000 });
    await dp1.call("release", release(lease?.leaseId ?? ""), { timeoutMs: 5_000 });
    await cp.admin.revokeApiKey({ id: tenant.keyId });
    const revokedAt = Date.now();
    expect(await failureCode(dp2.call("admit", admitOf(tenant.key), { timeoutMs: 5_000 }))).toBe(
      ErrorCode.API_KEY_DISABLED,
    );
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });

  it("refuses unknown keys, unserved models and a full user queue with their codes", async () => {
    const tenant = await seedTenant(cp.admin, {
      userConcurrency: 1,
      accounts: [{ modelMapping: { "gpt-4o": "" } }],
    });
    expect(await failureCode(dp1.call("admit", admitOf("sk-sy-unknown"), { timeoutMs: 5_000 }))).toBe(
      ErrorCode.INVALID_API_KEY,
    );
    expect(
      await failureCode(dp1.call("admit", admitOf(tenant.key, { model: "o3" }), { timeoutMs: 5_000 })),
    ).toBe(ErrorCode.MODEL_NOT_FOUND);

    const { lease } = await dp1.call("admit", admitOf(tenant.key), { timeoutMs: 5_000 });
    const waiters = Array.from({ length: 20 }, () =>
      dp1.call("admit", admitOf(tenant.key), { timeoutMs: 20_000 }),
    );
    await expect
      .poll(async () => (await cp.admin.listLeases({ userId: tenant.user.id })).leases.length)
      .toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(await failureCode(dp2.call("admit", admitOf(tenant.key), { timeoutMs: 5_000 }))).toBe(
      ErrorCode.USER_QUEUE_FULL,
    );
    await dp1.call("release", release(lease?.leaseId ?? ""), { timeoutMs: 5_000 });
    for (const w of waiters) {
      const granted = await w;
      await dp1.call("release", release(granted.lease?.leaseId ?? ""), { timeoutMs: 5_000 });
    }
  });

  it("keeps a session on its account, and moves it after a reroute that cools the account down", async () => {
    const tenant = await seedTenant(cp.admin, {
      accounts: [{ concurrency: 5 }, { concurrency: 5 }, { concurrency: 5 }],
    });
    const session = { sessionHash: "0123456789abcdef" };
    const first = (await dp1.call("admit", admitOf(tenant.key, session), { timeoutMs: 5_000 })).lease;
    await dp1.call("release", release(first?.leaseId ?? ""), { timeoutMs: 5_000 });
    const bound = first?.target?.accountId;
    for (let i = 0; i < 5; i++) {
      const again = (await dp2.call("admit", admitOf(tenant.key, session), { timeoutMs: 5_000 })).lease;
      expect(again?.target?.accountId).toBe(bound);
      expect(again?.sticky).toBe(true);
      await dp2.call("release", release(again?.leaseId ?? ""), { timeoutMs: 5_000 });
    }

    const lease = (await dp1.call("admit", admitOf(tenant.key, session), { timeoutMs: 5_000 })).lease;
    const moved = await dp1.call(
      "reroute",
      {
        leaseId: lease?.leaseId ?? "",
        failure: { kind: UpstreamFailureKind.HTTP_STATUS, status: 429, resetAfterMs: 60_000 },
        excludedAccountIds: [bound ?? ""],
      } as OperationRequest<"reroute">,
      { timeoutMs: 5_000 },
    );
    expect(moved.lease?.target?.accountId).not.toBe(bound);
    expect(moved.lease?.attempt).toBe(2);
    expect(moved.lease?.leaseId).toBe(lease?.leaseId);
    await dp1.call("release", release(moved.lease?.leaseId ?? ""), { timeoutMs: 5_000 });

    const { account } = await cp.admin.getAccount({ id: bound ?? "" });
    const until = Number(account?.rateLimitedUntil?.seconds ?? 0n) * 1000;
    expect(until).toBeGreaterThan(Date.now() + 50_000);
    expect(until).toBeLessThan(Date.now() + 61_000);

    const after = (await dp2.call("admit", admitOf(tenant.key, session), { timeoutMs: 5_000 })).lease;
    expect(after?.target?.accountId).not.toBe(bound);
    await dp2.call("release", release(after?.leaseId ?? ""), { timeoutMs: 5_000 });
    const later = (await dp2.call("admit", admitOf(tenant.key, session), { timeoutMs: 5_000 })).lease;
    expect(later?.target?.accountId).toBe(after?.target?.accountId);
    await dp2.call("release", release(later?.leaseId ?? ""), { timeoutMs: 5_000 });
  });

  it("streams a new snapshot within a second of a passthrough rule being created", async () => {
    const abort = new AbortController();
    const stream = cp.gateway
      .watchSnapshot({ instanceId: "dp-1" }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.snapshot?.version).toBe(1);
    const created = Date.now();
    const { rule } = await cp.admin.createPassthroughRule({ name: "quota-msg", errorCodes: [429] });
    // Other changes (the tenant seeding of earlier tests) may stream snapshots first: wait for the rule's own.
    let withRule: Awaited<ReturnType<typeof stream.next>> | null = null;
    while (withRule === null) {
      const next = await stream.next();
      if (next.done) throw new Error("snapshot stream ended");
      const ids = next.value.snapshot?.passthroughRules.map((r: { id: string }) => r.id) ?? [];
      if (ids.includes(rule?.id ?? "")) withRule = next;
    }
    expect(Date.now() - created).toBeLessThan(1_000);
    expect(withRule.value?.snapshot?.revision).toBeGreaterThan(first.value?.snapshot?.revision ?? 0n);
    abort.abort();
  });
});
