import { toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AccountStatus,
  AccountType,
  ClearAccountCooldownResponseSchema,
  CreateAccountResponseSchema,
  GetAccountResponseSchema,
  ListAccountsResponseSchema,
  UpdateAccountResponseSchema,
} from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  HARNESS_START,
  seedUserAndGroup,
  startAdminHarness,
} from "../support/admin-fixtures.js";
import { accessTokenFor, idTokenFor } from "../support/fake-chatgpt/tokens.js";

const SECRET = "sk-upstream-Zq8vT3xLw9Hc4Rb7Yp2Ns6Kd";
const ROTATED = "sk-upstream-rotated-Mv5Gh8Jt1Qe4";

describe("AdminService accounts", () => {
  let h: AdminHarness;
  let groupId: string;
  beforeAll(async () => {
    h = await startAdminHarness("admin_accounts");
    ({ groupId } = await seedUserAndGroup(h));
  });
  afterAll(async () => {
    await h?.close();
  });

  it("creates an account with the proto defaults and a sealed credential, never returned or logged", async () => {
    const res = await h.client.createAccount({ name: "primary", credential: SECRET, groupIds: [groupId] });
    expect(res.account).toMatchObject({
      name: "primary",
      platform: "openai",
      type: AccountType.API_KEY,
      baseUrl: "https://api.openai.com",
      hasCredential: true,
      proxyUrl: "",
      concurrency: 3,
      priority: 50,
      modelMapping: {},
      groupIds: [groupId],
      status: AccountStatus.ACTIVE,
      schedulable: true,
    });
    const id = res.account?.id ?? "";
    const [row] = await h.sql<{ credential_ciphertext: string; credential_key_id: string }>(
      "select * from accounts where id = ?",
      [id],
    );
    expect(row?.credential_ciphertext).not.toContain(SECRET);
    expect(JSON.stringify(row)).not.toContain(SECRET);
    expect(row?.credential_key_id).toBe(h.cipher.currentKeyId);
    expect(
      h.cipher.open({ keyId: row?.credential_key_id ?? "", ciphertext: row?.credential_ciphertext ?? "" }),
    ).toBe(SECRET);
    expect(toJsonString(CreateAccountResponseSchema, res)).not.toContain(SECRET);
    expect(toJsonString(GetAccountResponseSchema, await h.client.getAccount({ id }))).not.toContain(SECRET);
    expect(toJsonString(ListAccountsResponseSchema, await h.client.listAccounts({}))).not.toContain(SECRET);
    expect(h.changes).toContainEqual({ kind: "account", id });
    expect(auditLines(h, "account.create")).toContainEqual(
      expect.objectContaining({
        id,
        name: "primary",
        baseUrl: "https://api.openai.com",
        groupIds: [groupId],
      }),
    );
    expect(h.logText()).not.toContain(SECRET);
  });

  it("keeps explicit fields: base URL, proxy, concurrency, priority and a model mapping", async () => {
    const { account } = await h.client.createAccount({
      name: "custom",
      baseUrl: "https://llm.example.com/v1/",
      proxyUrl: "socks5://proxy.internal:1080",
      credential: ` ${SECRET}-2 \n`,
      concurrency: 12,
      priority: -5,
      modelMapping: { "gpt-5*": "gpt-5-mini", "gpt-4o": "" },
      groupIds: [groupId, groupId],
    });
    expect(account).toMatchObject({
      baseUrl: "https://llm.example.com/v1",
      proxyUrl: "socks5://proxy.internal:1080",
      concurrency: 12,
      priority: -5,
      modelMapping: { "gpt-5*": "gpt-5-mini", "gpt-4o": "" },
      groupIds: [groupId],
    });
    const opened = await h.catalog.accounts.getForScheduling(account?.id ?? "");
    expect(opened?.credential).toBe(`${SECRET}-2`);
  });

  it("creates a ChatGPT account: tokens sealed and never returned, the Codex base URL, the type and token expiry", async () => {
    const accessToken = accessTokenFor("chatgpt-acct-1", Date.UTC(2031, 0, 1));
    const refreshToken = "rt_Secret-Refresh-Token-9Zk";
    const res = await h.client.createAccount({
      name: "subscription",
      type: AccountType.OAUTH,
      chatgpt: { accessToken, refreshToken, idToken: idTokenFor("chatgpt-acct-1") },
      groupIds: [groupId],
    });
    expect(res.account).toMatchObject({
      type: AccountType.OAUTH,
      baseUrl: "https://chatgpt.com/backend-api/codex",
      hasCredential: true,
    });
    expect(res.account?.tokenExpireTime?.seconds).toBe(BigInt(Date.UTC(2031, 0, 1) / 1000));
    const shown = toJsonString(
      GetAccountResponseSchema,
      await h.client.getAccount({ id: res.account?.id ?? "" }),
    );
    expect(shown).not.toContain(refreshToken);
    expect(shown).not.toContain(accessToken);
    const [row] = await h.sql<Record<string, unknown>>("select * from accounts where id = ?", [
      res.account?.id,
    ]);
    expect(JSON.stringify(row)).not.toContain(refreshToken);
    expect(JSON.stringify(row)).not.toContain("chatgpt-acct-1");
    const opened = await h.catalog.accounts.getForScheduling(res.account?.id ?? "");
    expect(JSON.parse(opened?.credential ?? "{}")).toMatchObject({
      refresh_token: refreshToken,
      chatgpt_account_id: "chatgpt-acct-1",
    });
    await expectRpcError(
      h.client.updateAccount({ id: res.account?.id ?? "", credential: "sk-x-123456789" }),
      Code.InvalidArgument,
      "credential",
    );
  });

  it("refuses invalid fields with INVALID_ARGUMENT naming the field", async () => {
    const base = { name: "bad", credential: SECRET, groupIds: [groupId] };
    const c = h.client;
    await expectRpcError(c.createAccount({ ...base, name: " " }), Code.InvalidArgument, "name");
    await expectRpcError(
      c.createAccount({ ...base, platform: "anthropic" }),
      Code.InvalidArgument,
      "platform",
    );
    await expectRpcError(
      c.createAccount({ ...base, type: AccountType.OAUTH }),
      Code.InvalidArgument,
      "chatgpt",
    );
    await expectRpcError(
      c.createAccount({
        ...base,
        credential: "",
        type: AccountType.OAUTH,
        chatgpt: { accessToken: "opaque", refreshToken: "rt" },
      }),
      Code.InvalidArgument,
      "chatgpt.chatgpt_account_id",
    );
    await expectRpcError(
      c.createAccount({ ...base, baseUrl: "ftp://x.example" }),
      Code.InvalidArgument,
      "base_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, baseUrl: "not a url" }),
      Code.InvalidArgument,
      "base_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, baseUrl: "https://u:p@x.example" }),
      Code.InvalidArgument,
      "base_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, baseUrl: "https://x.example/?a=1" }),
      Code.InvalidArgument,
      "base_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, proxyUrl: "ftp://proxy" }),
      Code.InvalidArgument,
      "proxy_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, proxyUrl: "http://pro xy:1" }),
      Code.InvalidArgument,
      "proxy_url",
    );
    await expectRpcError(
      c.createAccount({ ...base, modelMapping: { "gpt\u0000": "x" } }),
      Code.InvalidArgument,
      "model_mapping",
    );
    await expectRpcError(c.createAccount({ ...base, credential: "" }), Code.InvalidArgument, "credential");
    await expectRpcError(
      c.createAccount({ ...base, credential: "sk a b" }),
      Code.InvalidArgument,
      "credential",
    );
    await expectRpcError(c.createAccount({ ...base, concurrency: 0 }), Code.InvalidArgument, "concurrency");
    await expectRpcError(c.createAccount({ ...base, groupIds: [] }), Code.InvalidArgument, "group_ids");
    await expectRpcError(c.createAccount({ ...base, groupIds: [""] }), Code.InvalidArgument, "group_ids");
    await expectRpcError(
      c.createAccount({ ...base, modelMapping: { "": "x" } }),
      Code.InvalidArgument,
      "model_mapping",
    );
    await expectRpcError(
      c.createAccount({ ...base, modelMapping: { "a*b": "x" } }),
      Code.InvalidArgument,
      "model_mapping",
    );
    await expectRpcError(
      c.createAccount({ ...base, modelMapping: { "a*": "b*" } }),
      Code.InvalidArgument,
      "model_mapping",
    );
    await expectRpcError(
      c.createAccount({ ...base, groupIds: ["5a1d0c9e-0000-4000-8000-000000000000"] }),
      Code.NotFound,
    );
    const err = await expectRpcError(
      c.createAccount({ ...base, credential: "bad\u0001" }),
      Code.InvalidArgument,
    );
    expect(err.rawMessage).not.toContain("bad\u0001");
    expect(h.logText()).not.toContain(SECRET);
  });

  it("answers ALREADY_EXISTS for a duplicate name", async () => {
    await h.client.createAccount({ name: "dup", credential: SECRET, groupIds: [groupId] });
    await expectRpcError(
      h.client.createAccount({ name: "dup", credential: SECRET, groupIds: [groupId] }),
      Code.AlreadyExists,
    );
  });

  it("replaces the credential, mapping and groups on update, and never echoes the credential", async () => {
    const { groupId: second } = await seedUserAndGroup(h, { user: "u2", group: "g2" });
    const { account } = await h.client.createAccount({
      name: "rotating",
      credential: SECRET,
      groupIds: [groupId],
      modelMapping: { "gpt-4o": "" },
      proxyUrl: "http://proxy:3128",
    });
    const id = account?.id ?? "";
    const res = await h.client.updateAccount({
      id,
      credential: ROTATED,
      proxyUrl: "",
      replaceModelMapping: true,
      replaceGroupIds: true,
      groupIds: [second],
      schedulable: false,
      status: AccountStatus.DISABLED,
    });
    expect(res.account).toMatchObject({
      modelMapping: {},
      groupIds: [second],
      proxyUrl: "",
      schedulable: false,
      status: AccountStatus.DISABLED,
      hasCredential: true,
    });
    expect(toJsonString(UpdateAccountResponseSchema, res)).not.toContain(ROTATED);
    expect((await h.catalog.accounts.getForScheduling(id))?.credential).toBe(ROTATED);
    expect(auditLines(h, "account.update")).toContainEqual(
      expect.objectContaining({
        id,
        changed: expect.arrayContaining(["credential", "group_ids", "model_mapping"]),
      }),
    );
    expect(h.logText()).not.toContain(ROTATED);
    await expectRpcError(
      h.client.updateAccount({ id, status: AccountStatus.ERROR }),
      Code.InvalidArgument,
      "status",
    );
    await expectRpcError(
      h.client.updateAccount({ id, replaceGroupIds: true }),
      Code.InvalidArgument,
      "group_ids",
    );
    await expectRpcError(h.client.updateAccount({ id, credential: " " }), Code.InvalidArgument, "credential");
  });

  it("clears cooldowns and an error status", async () => {
    const { account } = await h.client.createAccount({
      name: "cooling",
      credential: SECRET,
      groupIds: [groupId],
    });
    const id = account?.id ?? "";
    const later = new Date(HARNESS_START + 600_000);
    await h.sql(
      `update accounts set status = 'error', status_reason = '401 from upstream', rate_limited_until = ?,
        overloaded_until = ?, temp_unschedulable_until = ?,
        health = '{"serverErrorStreak":2,"lastServerErrorAt":1,"forbiddenAt":[1]}' where id = ?`,
      [later, later, later, id],
    );
    const before = await h.client.getAccount({ id });
    expect(before.account?.status).toBe(AccountStatus.ERROR);
    expect(before.account?.rateLimitedUntil).toBeDefined();
    h.changes.length = 0;
    const res = await h.client.clearAccountCooldown({ id });
    expect(res.account).toMatchObject({ status: AccountStatus.ACTIVE, statusReason: "" });
    expect(res.account?.rateLimitedUntil).toBeUndefined();
    expect(res.account?.overloadedUntil).toBeUndefined();
    expect(res.account?.tempUnschedulableUntil).toBeUndefined();
    expect(toJsonString(ClearAccountCooldownResponseSchema, res)).not.toContain(SECRET);
    expect(h.changes).toEqual([{ kind: "account", id }]);
    const [row] = await h.sql<{ health: unknown }>("select health from accounts where id = ?", [id]);
    expect(row?.health).toEqual({ serverErrorStreak: 0, lastServerErrorAt: null, forbiddenAt: [] });
  });

  it("lists accounts by name, optionally of one group, across pages", async () => {
    const { groupId: only } = await seedUserAndGroup(h, { user: "u3", group: "listing" });
    for (const name of ["l-c", "l-a", "l-b", "l-d"]) {
      await h.client.createAccount({ name, credential: SECRET, groupIds: [only] });
    }
    const names: string[] = [];
    let token = "";
    do {
      const page = await h.client.listAccounts({ groupId: only, pageSize: 3, pageToken: token });
      names.push(...page.accounts.map((a) => a.name));
      token = page.nextPageToken;
    } while (token !== "");
    expect(names).toEqual(["l-a", "l-b", "l-c", "l-d"]);
    const all = await h.client.listAccounts({ pageSize: 500 });
    expect(all.accounts.map((a) => a.name)).toEqual([...all.accounts.map((a) => a.name)].sort());
    await expectRpcError(h.client.listAccounts({ groupId: "x" }), Code.InvalidArgument, "group_id");
  });

  it("lists a group's accounts with opened credentials for scheduling, skipping ones it cannot open", async () => {
    const { groupId: sched } = await seedUserAndGroup(h, { user: "u4", group: "scheduling" });
    const { account: a } = await h.client.createAccount({
      name: "s-a",
      credential: SECRET,
      groupIds: [sched],
    });
    const { account: b } = await h.client.createAccount({
      name: "s-b",
      credential: ROTATED,
      groupIds: [sched],
    });
    await h.sql("update accounts set credential_key_id = 'retired1' where id = ?", [b?.id]);
    const accounts = await h.catalog.accounts.listForScheduling(sched);
    expect(accounts.map((x) => [x.id, x.credential, x.baseUrl, x.concurrency])).toEqual([
      [a?.id, SECRET, "https://api.openai.com", 3],
    ]);
    expect(accounts[0]).toMatchObject({
      status: "active",
      type: "apikey",
      rateLimitedUntil: null,
      groupIds: [sched],
    });
    expect(h.logLines).toContainEqual(
      expect.objectContaining({
        accountId: b?.id,
        keyId: "retired1",
        msg: "account credential cannot be opened",
      }),
    );
    expect(await h.catalog.accounts.listForScheduling("not-a-uuid")).toEqual([]);
  });

  it("deletes an account and announces it", async () => {
    const { account } = await h.client.createAccount({
      name: "doomed",
      credential: SECRET,
      groupIds: [groupId],
    });
    const id = account?.id ?? "";
    await h.client.deleteAccount({ id });
    await expectRpcError(h.client.getAccount({ id }), Code.NotFound);
    await expectRpcError(h.client.deleteAccount({ id }), Code.NotFound);
    expect(h.changes).toContainEqual({ kind: "account", id });
    expect(auditLines(h, "account.delete")).toContainEqual(expect.objectContaining({ id, name: "doomed" }));
  });
});
