import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingMode } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  HARNESS_START,
  startAdminHarness,
} from "../support/admin-fixtures.js";

const DAY = 86_400_000;

describe("AdminService groups", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_groups");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("creates a balance group with multiplier 1 by default, and gets it by id or by name", async () => {
    const { group } = await h.client.createGroup({ name: "default", description: "the usual" });
    expect(group).toMatchObject({
      name: "default",
      description: "the usual",
      rateMultiplier: "1",
      billingMode: BillingMode.BALANCE,
      dailyLimitUsd: "",
    });
    expect((await h.client.getGroup({ id: group?.id ?? "" })).group).toEqual(group);
    expect((await h.client.getGroup({ name: "default" })).group).toEqual(group);
    expect(h.changes).toContainEqual({ kind: "group", id: group?.id });
    expect(auditLines(h, "group.create")).toHaveLength(1);
  });

  it("needs exactly one of id or name to get a group", async () => {
    await expectRpcError(h.client.getGroup({}), Code.InvalidArgument, "id");
    await expectRpcError(h.client.getGroup({ id: "x", name: "y" }), Code.InvalidArgument, "id");
    await expectRpcError(h.client.getGroup({ name: "nobody" }), Code.NotFound);
  });

  it("stores subscription limits exactly", async () => {
    const { group } = await h.client.createGroup({
      name: "pro",
      billingMode: BillingMode.SUBSCRIPTION,
      rateMultiplier: "1.5",
      dailyLimitUsd: "10",
      weeklyLimitUsd: "50.123456",
    });
    expect(group).toMatchObject({
      billingMode: BillingMode.SUBSCRIPTION,
      rateMultiplier: "1.5",
      dailyLimitUsd: "10",
      weeklyLimitUsd: "50.123456",
      monthlyLimitUsd: "",
    });
  });

  it("refuses invalid fields with INVALID_ARGUMENT naming the field", async () => {
    const c = h.client;
    await expectRpcError(c.createGroup({ name: "" }), Code.InvalidArgument, "name");
    await expectRpcError(c.createGroup({ name: "g".repeat(65) }), Code.InvalidArgument, "name");
    await expectRpcError(
      c.createGroup({ name: "g1", rateMultiplier: "0" }),
      Code.InvalidArgument,
      "rate_multiplier",
    );
    await expectRpcError(
      c.createGroup({ name: "g2", rateMultiplier: "-1" }),
      Code.InvalidArgument,
      "rate_multiplier",
    );
    await expectRpcError(
      c.createGroup({ name: "g3", rateMultiplier: "1000000" }),
      Code.InvalidArgument,
      "rate_multiplier",
    );
    await expectRpcError(
      c.createGroup({ name: "g4", dailyLimitUsd: "5" }),
      Code.InvalidArgument,
      "daily_limit_usd",
    );
    await expectRpcError(
      c.createGroup({ name: "g5", billingMode: BillingMode.SUBSCRIPTION, monthlyLimitUsd: "abc" }),
      Code.InvalidArgument,
      "monthly_limit_usd",
    );
    await expectRpcError(
      c.createGroup({ name: "g6", billingMode: 7 as BillingMode }),
      Code.InvalidArgument,
      "billing_mode",
    );
    await expectRpcError(
      c.createGroup({ name: "g7", description: "d".repeat(1025) }),
      Code.InvalidArgument,
      "description",
    );
    await expectRpcError(
      c.createGroup({ name: "g8", description: "nul\u0000" }),
      Code.InvalidArgument,
      "description",
    );
  });

  it("answers ALREADY_EXISTS for a duplicate name", async () => {
    await h.client.createGroup({ name: "twice" });
    await expectRpcError(h.client.createGroup({ name: "twice" }), Code.AlreadyExists);
  });

  it("updates fields, removes a limit with an empty string, and validates the result as a whole", async () => {
    const { group } = await h.client.createGroup({
      name: "team",
      billingMode: BillingMode.SUBSCRIPTION,
      dailyLimitUsd: "3",
    });
    const id = group?.id ?? "";
    const { group: changed } = await h.client.updateGroup({ id, description: "new", dailyLimitUsd: "" });
    expect(changed).toMatchObject({ description: "new", dailyLimitUsd: "", name: "team" });
    await h.client.updateGroup({ id, weeklyLimitUsd: "9" });
    await expectRpcError(
      h.client.updateGroup({ id, billingMode: BillingMode.BALANCE }),
      Code.InvalidArgument,
      "weekly_limit_usd",
    );
    const { group: balance } = await h.client.updateGroup({
      id,
      billingMode: BillingMode.BALANCE,
      weeklyLimitUsd: "",
    });
    expect(balance?.billingMode).toBe(BillingMode.BALANCE);
    await expectRpcError(h.client.updateGroup({ id: "0d8b3a44-0000-4000-8000-000000000000" }), Code.NotFound);
  });

  it("lists groups by name across pages", async () => {
    for (const n of ["p-c", "p-a", "p-b"]) await h.client.createGroup({ name: n });
    const names: string[] = [];
    let token = "";
    do {
      const page = await h.client.listGroups({ pageSize: 2, pageToken: token });
      names.push(...page.groups.map((g) => g.name));
      token = page.nextPageToken;
    } while (token !== "");
    expect(names).toEqual([...names].sort());
    expect(names.filter((n) => n.startsWith("p-"))).toEqual(["p-a", "p-b", "p-c"]);
  });

  it("refuses to delete a group a live key or an active subscription uses", async () => {
    const { user } = await h.client.createUser({ name: "owner" });
    const { group } = await h.client.createGroup({ name: "busy", billingMode: BillingMode.SUBSCRIPTION });
    const groupId = group?.id ?? "";
    const { apiKey } = await h.client.createApiKey({ userId: user?.id ?? "", groupId });
    const keyErr = await expectRpcError(h.client.deleteGroup({ id: groupId }), Code.InvalidArgument, "id");
    expect(keyErr.rawMessage).toContain("API key");
    await h.client.revokeApiKey({ id: apiKey?.id ?? "" });
    const { subscription } = await h.client.createSubscription({
      userId: user?.id ?? "",
      groupId,
      expireTime: { seconds: BigInt((HARNESS_START + 30 * DAY) / 1000), nanos: 0 },
    });
    const subErr = await expectRpcError(h.client.deleteGroup({ id: groupId }), Code.InvalidArgument, "id");
    expect(subErr.rawMessage).toContain("subscription");
    await h.client.deleteSubscription({ id: subscription?.id ?? "" });
    await h.client.deleteGroup({ id: groupId });
    await expectRpcError(h.client.getGroup({ id: groupId }), Code.NotFound);
    expect(h.changes).toContainEqual({ kind: "group", id: groupId });
    expect(auditLines(h, "group.delete")).toContainEqual(expect.objectContaining({ id: groupId }));
  });

  it("detaches a deleted group from the accounts that served it", async () => {
    const { group: keep } = await h.client.createGroup({ name: "keep" });
    const { group: gone } = await h.client.createGroup({ name: "gone" });
    const { account } = await h.client.createAccount({
      name: "shared-account",
      credential: "sk-upstream-detach",
      groupIds: [keep?.id ?? "", gone?.id ?? ""],
    });
    h.changes.length = 0;
    await h.client.deleteGroup({ id: gone?.id ?? "" });
    const after = await h.client.getAccount({ id: account?.id ?? "" });
    expect(after.account?.groupIds).toEqual([keep?.id]);
    expect(h.changes).toEqual([
      { kind: "account", id: account?.id },
      { kind: "group", id: gone?.id },
    ]);
  });

  it("refuses to switch a group with active subscriptions to balance billing", async () => {
    const { user } = await h.client.createUser({ name: "subscriber" });
    const { group } = await h.client.createGroup({ name: "sub-only", billingMode: BillingMode.SUBSCRIPTION });
    await h.client.createSubscription({
      userId: user?.id ?? "",
      groupId: group?.id ?? "",
      expireTime: { seconds: BigInt((HARNESS_START + DAY) / 1000), nanos: 0 },
    });
    await expectRpcError(
      h.client.updateGroup({ id: group?.id ?? "", billingMode: BillingMode.BALANCE }),
      Code.InvalidArgument,
      "billing_mode",
    );
  });
});
