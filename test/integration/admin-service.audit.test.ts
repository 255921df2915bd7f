import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingMode } from "../../src/gen/switchyard/v1/admin_pb.js";
import { type AdminHarness, HARNESS_START, startAdminHarness } from "../support/admin-fixtures.js";

const CREDENTIAL = "sk-upstream-audit-Qw7Er5Ty3Ui1";
const DAY = 86_400_000;

/** One mutation: its audit action, the change kind it publishes, and a call that returns the changed id. */
type Step = [action: string, kind: string, run: () => Promise<string>];

/** Every mutating RPC once, in an order where each has what it needs; `ids` collects what later steps use. */
function everyMutation(c: AdminHarness["client"], ids: Record<string, string>): Step[] {
  const keep = (name: string, id: string | undefined) => {
    ids[name] = id ?? "";
    return ids[name] ?? "";
  };
  const id = (name: string) => ids[name] ?? "";
  const deleted = (name: string, call: () => Promise<unknown>) => async () => {
    await call();
    return id(name);
  };
  return [
    ["user.create", "user", async () => keep("user", (await c.createUser({ name: "a" })).user?.id)],
    [
      "user.update",
      "user",
      async () => keep("user", (await c.updateUser({ id: id("user"), balanceUsd: "3" })).user?.id),
    ],
    [
      "group.create",
      "group",
      async () =>
        keep("group", (await c.createGroup({ name: "g", billingMode: BillingMode.SUBSCRIPTION })).group?.id),
    ],
    [
      "group.update",
      "group",
      async () => keep("group", (await c.updateGroup({ id: id("group"), description: "d" })).group?.id),
    ],
    [
      "api_key.create",
      "api_key",
      async () => {
        const res = await c.createApiKey({ userId: id("user"), groupId: id("group") });
        ids.plaintext = res.key;
        return keep("key", res.apiKey?.id);
      },
    ],
    [
      "api_key.update",
      "api_key",
      async () => keep("key", (await c.updateApiKey({ id: id("key"), name: "n" })).apiKey?.id),
    ],
    [
      "api_key.revoke",
      "api_key",
      async () => keep("key", (await c.revokeApiKey({ id: id("key") })).apiKey?.id),
    ],
    [
      "account.create",
      "account",
      async () =>
        keep(
          "account",
          (await c.createAccount({ name: "acc", credential: CREDENTIAL, groupIds: [id("group")] })).account
            ?.id,
        ),
    ],
    [
      "account.update",
      "account",
      async () =>
        keep(
          "account",
          (await c.updateAccount({ id: id("account"), credential: `${CREDENTIAL}-2` })).account?.id,
        ),
    ],
    [
      "account.clear_cooldown",
      "account",
      async () => keep("account", (await c.clearAccountCooldown({ id: id("account") })).account?.id),
    ],
    [
      "passthrough_rule.create",
      "passthrough_rule",
      async () => keep("rule", (await c.createPassthroughRule({ name: "r", errorCodes: [500] })).rule?.id),
    ],
    [
      "passthrough_rule.update",
      "passthrough_rule",
      async () => keep("rule", (await c.updatePassthroughRule({ id: id("rule"), enabled: false })).rule?.id),
    ],
    [
      "model_price.set",
      "model_price",
      async () => {
        const price = {
          model: "m",
          inputUsdPerMtok: "1",
          cachedInputUsdPerMtok: "0.5",
          outputUsdPerMtok: "2",
        };
        return keep("model", (await c.setModelPrice({ price })).price?.model);
      },
    ],
    [
      "subscription.create",
      "subscription",
      async () => {
        const expireTime = timestampFromMs(HARNESS_START + DAY);
        return keep(
          "sub",
          (await c.createSubscription({ userId: id("user"), groupId: id("group"), expireTime })).subscription
            ?.id,
        );
      },
    ],
    [
      "subscription.update",
      "subscription",
      async () => {
        const expireTime = timestampFromMs(HARNESS_START + 2 * DAY);
        return keep("sub", (await c.updateSubscription({ id: id("sub"), expireTime })).subscription?.id);
      },
    ],
    [
      "settings.update",
      "settings",
      deleted("settings", () => c.updateSettings({ settings: { maxAccountSwitches: 4 } })),
    ],
    ["subscription.delete", "subscription", deleted("sub", () => c.deleteSubscription({ id: id("sub") }))],
    ["model_price.delete", "model_price", deleted("model", () => c.deleteModelPrice({ model: id("model") }))],
    [
      "passthrough_rule.delete",
      "passthrough_rule",
      deleted("rule", () => c.deletePassthroughRule({ id: id("rule") })),
    ],
    ["account.delete", "account", deleted("account", () => c.deleteAccount({ id: id("account") }))],
    ["group.delete", "group", deleted("group", () => c.deleteGroup({ id: id("group") }))],
    ["user.delete", "user", deleted("user", () => c.deleteUser({ id: id("user") }))],
  ];
}

describe("AdminService mutations", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_audit");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("each write exactly one audit line and publish one change, and none logs a secret", async () => {
    const ids: Record<string, string> = { settings: "gateway" };
    for (const [action, kind, run] of everyMutation(h.client, ids)) {
      const linesBefore = h.logLines.length;
      const changesBefore = h.changes.length;
      const id = await run();
      const audit = h.logLines.slice(linesBefore).filter((l) => l.audit === true);
      expect(audit, action).toEqual([expect.objectContaining({ level: "info", action, id })]);
      expect(h.changes.slice(changesBefore), action).toEqual([{ kind, id }]);
    }
    const text = h.logText();
    expect(text).not.toContain(CREDENTIAL);
    expect(text).not.toContain((ids.plaintext ?? "").slice(6));
    expect(text).not.toContain("key_sha256");
  });

  it("write no audit line for reads", async () => {
    const before = h.logLines.length;
    await h.client.listUsers({});
    await h.client.listAccounts({});
    await h.client.getSettings({});
    await h.client.listUsage({});
    expect(h.logLines.slice(before).filter((l) => l.audit === true)).toEqual([]);
  });
});
