import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOfDay } from "../../src/control-plane/domain/catalog/billing-windows.js";
import { BillingMode, SubscriptionStatus } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  HARNESS_START,
  startAdminHarness,
} from "../support/admin-fixtures.js";

const DAY = 86_400_000;
const at = (ms: number) => timestampFromMs(ms);

describe("AdminService subscriptions", () => {
  let h: AdminHarness;
  let userId: string;
  let subGroup: string;
  let balanceGroup: string;
  beforeAll(async () => {
    h = await startAdminHarness("admin_subscriptions");
    userId = (await h.client.createUser({ name: "subscriber" })).user?.id ?? "";
    subGroup =
      (await h.client.createGroup({ name: "plus", billingMode: BillingMode.SUBSCRIPTION })).group?.id ?? "";
    balanceGroup = (await h.client.createGroup({ name: "payg" })).group?.id ?? "";
  });
  afterAll(async () => {
    await h?.close();
  });

  async function insertUsage(
    subscriptionId: string,
    requestId: string,
    when: number,
    cost: string,
  ): Promise<void> {
    await h.sql(
      `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, subscription_id, requested_model,
        upstream_model, endpoint, stream, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
        input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier, total_cost_usd, outcome, status_code,
        first_token_ms, duration_ms, failover_count, upstream_request_id, created_at)
       values (?, 'lse', ?, gen_random_uuid(), ?, ?, 'gpt-4o', 'gpt-4o', 'responses', true, 10, 0, 5, 0, 0, 0, 0, 1,
        ?, 'completed', 200, 5, 9, 0, '', ?)`,
      [requestId, userId, subGroup, subscriptionId, cost, new Date(when)],
    );
  }

  it("creates a subscription starting now, with zero usage, and sums its windows exactly", async () => {
    const { subscription } = await h.client.createSubscription({
      userId,
      groupId: subGroup,
      expireTime: at(HARNESS_START + 30 * DAY),
    });
    expect(subscription).toMatchObject({
      userId,
      groupId: subGroup,
      status: SubscriptionStatus.ACTIVE,
      startTime: at(HARNESS_START),
      dailyUsedUsd: "0",
      weeklyUsedUsd: "0",
      monthlyUsedUsd: "0",
    });
    const id = subscription?.id ?? "";
    expect(h.changes).toContainEqual({ kind: "subscription", id });
    expect(auditLines(h, "subscription.create")).toContainEqual(expect.objectContaining({ id, userId }));
    await insertUsage(id, "req_today", HARNESS_START - 3_600_000, "1.5");
    await insertUsage(id, "req_yesterday", HARNESS_START - 11 * 3_600_000, "0.25");
    await insertUsage(id, "req_10d", HARNESS_START - 10 * DAY, "2.000000000001");
    await insertUsage(id, "req_40d", HARNESS_START - 40 * DAY, "100");
    const got = await h.client.getSubscription({ id });
    expect(got.subscription).toMatchObject({
      dailyUsedUsd: "1.5",
      weeklyUsedUsd: "1.75",
      monthlyUsedUsd: "3.750000000001",
    });
    const listed = await h.client.listSubscriptions({ userId });
    expect(listed.subscriptions.find((s) => s.id === id)?.monthlyUsedUsd).toBe("3.750000000001");
  });

  it("refuses overlapping active subscriptions of one user to one group", async () => {
    const err = await expectRpcError(
      h.client.createSubscription({ userId, groupId: subGroup, expireTime: at(HARNESS_START + DAY) }),
      Code.AlreadyExists,
    );
    expect(err.rawMessage).toContain(userId);
    const { subscription: next } = await h.client.createSubscription({
      userId,
      groupId: subGroup,
      startTime: at(HARNESS_START + 30 * DAY),
      expireTime: at(HARNESS_START + 60 * DAY),
    });
    expect(next?.startTime).toEqual(at(HARNESS_START + 30 * DAY));
  });

  it("refuses invalid requests naming the field", async () => {
    const c = h.client;
    const expireTime = at(HARNESS_START + DAY);
    await expectRpcError(
      c.createSubscription({ userId, groupId: balanceGroup, expireTime }),
      Code.InvalidArgument,
      "group_id",
    );
    await expectRpcError(
      c.createSubscription({ userId, groupId: subGroup }),
      Code.InvalidArgument,
      "expire_time",
    );
    await expectRpcError(
      c.createSubscription({ userId, groupId: subGroup, startTime: expireTime, expireTime }),
      Code.InvalidArgument,
      "expire_time",
    );
    await expectRpcError(
      c.createSubscription({
        userId,
        groupId: subGroup,
        startTime: at(0),
        expireTime: at(HARNESS_START - 1),
      }),
      Code.InvalidArgument,
      "expire_time",
    );
    await expectRpcError(
      c.createSubscription({ userId: "", groupId: subGroup, expireTime }),
      Code.InvalidArgument,
      "user_id",
    );
    await expectRpcError(
      c.createSubscription({ userId: "4b7a4c8e-0000-4000-8000-000000000000", groupId: subGroup, expireTime }),
      Code.NotFound,
    );
    await expectRpcError(c.getSubscription({ id: "nope" }), Code.NotFound);
    await expectRpcError(
      c.createSubscription({
        userId,
        groupId: subGroup,
        startTime: { seconds: -200_000_000_000n, nanos: 0 },
        expireTime,
      }),
      Code.InvalidArgument,
      "start_time",
    );
  });

  it("cancels, changes expiry, refuses an expiry before the start, and deletes", async () => {
    const { user } = await h.client.createUser({ name: "changer" });
    const { subscription } = await h.client.createSubscription({
      userId: user?.id ?? "",
      groupId: subGroup,
      expireTime: at(HARNESS_START + DAY),
    });
    const id = subscription?.id ?? "";
    const { subscription: cancelled } = await h.client.updateSubscription({
      id,
      status: SubscriptionStatus.CANCELLED,
      expireTime: at(HARNESS_START + 2 * DAY),
    });
    expect(cancelled).toMatchObject({
      status: SubscriptionStatus.CANCELLED,
      expireTime: at(HARNESS_START + 2 * DAY),
    });
    await expectRpcError(
      h.client.updateSubscription({ id, expireTime: at(HARNESS_START - DAY) }),
      Code.InvalidArgument,
      "expire_time",
    );
    await expectRpcError(
      h.client.updateSubscription({ id, status: SubscriptionStatus.UNSPECIFIED }),
      Code.InvalidArgument,
      "status",
    );
    expect(auditLines(h, "subscription.update")).toContainEqual(
      expect.objectContaining({ id, status: "cancelled" }),
    );
    await h.client.deleteSubscription({ id });
    await expectRpcError(h.client.getSubscription({ id }), Code.NotFound);
    expect(h.changes.filter((c) => c.id === id).length).toBe(3);
  });

  it("refuses to reactivate a cancelled subscription that a newer one overlaps", async () => {
    const { user } = await h.client.createUser({ name: "returner" });
    const request = { userId: user?.id ?? "", groupId: subGroup, expireTime: at(HARNESS_START + DAY) };
    const { subscription: first } = await h.client.createSubscription(request);
    await h.client.updateSubscription({ id: first?.id ?? "", status: SubscriptionStatus.CANCELLED });
    await h.client.createSubscription(request);
    await expectRpcError(
      h.client.updateSubscription({ id: first?.id ?? "", status: SubscriptionStatus.ACTIVE }),
      Code.AlreadyExists,
    );
  });

  it("lists subscriptions of a user or a group across pages", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1);
      const { user } = await h.client.createUser({ name: `lister-${i}` });
      const { subscription } = await h.client.createSubscription({
        userId: user?.id ?? "",
        groupId: subGroup,
        expireTime: at(HARNESS_START + DAY),
      });
      ids.push(subscription?.id ?? "");
    }
    const seen: string[] = [];
    let token = "";
    do {
      const page = await h.client.listSubscriptions({ groupId: subGroup, pageSize: 2, pageToken: token });
      seen.push(...page.subscriptions.map((s) => s.id));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen.slice(-3)).toEqual(ids);
    const mine = await h.client.listSubscriptions({ userId, groupId: subGroup });
    expect(mine.subscriptions.every((s) => s.userId === userId)).toBe(true);
    expect(mine.subscriptions).toHaveLength(2);
  });
});

describe("the subscription calendar day", () => {
  it("starts at midnight in the billing timezone", () => {
    const now = Date.parse("2026-03-02T10:00:00Z");
    expect(new Date(startOfDay(now, "UTC")).toISOString()).toBe("2026-03-02T00:00:00.000Z");
    expect(new Date(startOfDay(now, "Asia/Tokyo")).toISOString()).toBe("2026-03-01T15:00:00.000Z");
    expect(new Date(startOfDay(now, "America/Los_Angeles")).toISOString()).toBe("2026-03-02T08:00:00.000Z");
    // The day DST starts in New York (2026-03-08) is 23 hours long; midnight is still EST.
    const dst = Date.parse("2026-03-08T20:00:00Z");
    expect(new Date(startOfDay(dst, "America/New_York")).toISOString()).toBe("2026-03-08T05:00:00.000Z");
  });
});
