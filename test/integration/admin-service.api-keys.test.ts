import { createHash } from "node:crypto";
import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiKeyStatus,
  CreateApiKeyResponseSchema,
  GetApiKeyResponseSchema,
} from "../../src/gen/switchyard/v1/admin_pb.js";
import { hashApiKey, isIssuedApiKey } from "../../src/shared/api-key.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  HARNESS_START,
  seedUserAndGroup,
  startAdminHarness,
} from "../support/admin-fixtures.js";

describe("AdminService API keys", () => {
  let h: AdminHarness;
  let userId: string;
  let groupId: string;
  beforeAll(async () => {
    h = await startAdminHarness("admin_api_keys");
    ({ userId, groupId } = await seedUserAndGroup(h));
  });
  afterAll(async () => {
    await h?.close();
  });

  it("returns the plaintext once and stores only its SHA-256 and prefix", async () => {
    const res = await h.client.createApiKey({ userId, groupId, name: "ci", quotaUsd: "25" });
    const key = res.key;
    expect(isIssuedApiKey(key)).toBe(true);
    expect(res.apiKey).toMatchObject({
      name: "ci",
      prefix: key.slice(0, 10),
      userId,
      groupId,
      status: ApiKeyStatus.ACTIVE,
      quotaUsd: "25",
      quotaUsedUsd: "0",
    });
    expect(res.apiKey?.expireTime).toBeUndefined();
    const [row] = await h.sql<Record<string, unknown>>("select * from api_keys where id = ?", [
      res.apiKey?.id,
    ]);
    expect(row).toBeDefined();
    const sha = createHash("sha256").update(key).digest();
    expect(Buffer.compare(row?.key_sha256 as Buffer, sha)).toBe(0);
    for (const [column, value] of Object.entries(row ?? {})) {
      const text = Buffer.isBuffer(value) ? value.toString("latin1") + value.toString("hex") : String(value);
      expect(text.includes(key.slice(6)), `column ${column} holds the key`).toBe(false);
    }
    const again = await h.client.getApiKey({ id: res.apiKey?.id ?? "" });
    expect(toJsonString(CreateApiKeyResponseSchema, { ...res, key: "" })).not.toContain(key.slice(6));
    expect(toJsonString(GetApiKeyResponseSchema, again)).not.toContain(key.slice(6));
    expect(h.logText()).not.toContain(key.slice(6));
    expect(h.logText()).not.toContain(sha.toString("hex"));
    expect(auditLines(h, "api_key.create")).toContainEqual(
      expect.objectContaining({ id: res.apiKey?.id, userId }),
    );
    expect(h.changes).toContainEqual({ kind: "api_key", id: res.apiKey?.id });
  });

  it("finds a key by its hash with its user and group, for authentication", async () => {
    const { apiKey, key } = await h.client.createApiKey({ userId, groupId });
    const found = await h.catalog.apiKeys.findByHash(hashApiKey(key));
    expect(found?.key.id).toBe(apiKey?.id);
    expect(found?.user.id).toBe(userId);
    expect(found?.group.id).toBe(groupId);
    expect(await h.catalog.apiKeys.findByHash(hashApiKey(`${key}x`))).toBeNull();
  });

  it("needs an existing user and group and valid optional fields", async () => {
    const c = h.client;
    const unknown = "3f0e6f0a-1111-4000-8000-000000000000";
    await expectRpcError(c.createApiKey({ userId: "", groupId }), Code.InvalidArgument, "user_id");
    await expectRpcError(c.createApiKey({ userId, groupId: "" }), Code.InvalidArgument, "group_id");
    await expectRpcError(c.createApiKey({ userId: unknown, groupId }), Code.NotFound);
    await expectRpcError(c.createApiKey({ userId, groupId: unknown }), Code.NotFound);
    await expectRpcError(c.createApiKey({ userId: "nope", groupId }), Code.NotFound);
    await expectRpcError(
      c.createApiKey({ userId, groupId, quotaUsd: "-3" }),
      Code.InvalidArgument,
      "quota_usd",
    );
    await expectRpcError(
      c.createApiKey({ userId, groupId, name: "n".repeat(129) }),
      Code.InvalidArgument,
      "name",
    );
    await expectRpcError(
      c.createApiKey({ userId, groupId, expireTime: timestampFromMs(HARNESS_START - 1000) }),
      Code.InvalidArgument,
      "expire_time",
    );
  });

  it("updates name, status, expiry and quota; clears the expiry", async () => {
    const { apiKey } = await h.client.createApiKey({ userId, groupId });
    const id = apiKey?.id ?? "";
    const expiry = timestampFromMs(HARNESS_START + 3_600_000);
    const { apiKey: changed } = await h.client.updateApiKey({
      id,
      name: "renamed",
      status: ApiKeyStatus.DISABLED,
      expireTime: expiry,
      quotaUsd: "1.5",
    });
    expect(changed).toMatchObject({ name: "renamed", status: ApiKeyStatus.DISABLED, quotaUsd: "1.5" });
    expect(changed?.expireTime).toEqual(expiry);
    const { apiKey: cleared } = await h.client.updateApiKey({ id, clearExpireTime: true, quotaUsd: "" });
    expect(cleared?.expireTime).toBeUndefined();
    expect(cleared?.quotaUsd).toBe("");
    await expectRpcError(
      h.client.updateApiKey({ id, clearExpireTime: true, expireTime: expiry }),
      Code.InvalidArgument,
      "expire_time",
    );
    await expectRpcError(h.client.updateApiKey({ id, quotaUsd: "x" }), Code.InvalidArgument, "quota_usd");
    await expectRpcError(h.client.updateApiKey({ id: "", name: "x" }), Code.InvalidArgument, "id");
    expect(auditLines(h, "api_key.update").length).toBeGreaterThanOrEqual(2);
  });

  it("revokes a key for good and announces it", async () => {
    const { apiKey } = await h.client.createApiKey({ userId, groupId });
    const id = apiKey?.id ?? "";
    h.changes.length = 0;
    const { apiKey: revoked } = await h.client.revokeApiKey({ id });
    expect(revoked?.status).toBe(ApiKeyStatus.REVOKED);
    expect(h.changes).toEqual([{ kind: "api_key", id }]);
    expect(auditLines(h, "api_key.revoke")).toContainEqual(expect.objectContaining({ id }));
    await expectRpcError(
      h.client.updateApiKey({ id, status: ApiKeyStatus.ACTIVE }),
      Code.InvalidArgument,
      "id",
    );
    expect((await h.client.revokeApiKey({ id })).apiKey?.status).toBe(ApiKeyStatus.REVOKED);
    await expectRpcError(
      h.client.revokeApiKey({ id: "0d8b3a44-0000-4000-8000-000000000000" }),
      Code.NotFound,
    );
  });

  it("lists keys oldest first, optionally of one user, across pages", async () => {
    const other = await seedUserAndGroup(h, { user: "other-user", group: "other-group" });
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1);
      await h.client.createApiKey({ userId: other.userId, groupId: other.groupId, name: `k${i}` });
    }
    const names: string[] = [];
    let token = "";
    do {
      const page = await h.client.listApiKeys({ userId: other.userId, pageSize: 2, pageToken: token });
      names.push(...page.apiKeys.map((k) => k.name));
      token = page.nextPageToken;
    } while (token !== "");
    expect(names).toEqual(["k0", "k1", "k2", "k3", "k4"]);
    const all = await h.client.listApiKeys({ pageSize: 500 });
    expect(all.apiKeys.length).toBeGreaterThan(5);
    await expectRpcError(h.client.listApiKeys({ userId: "bad" }), Code.InvalidArgument, "user_id");
  });

  it("keeps IP lists and spend limits, refusing malformed ones naming the field", async () => {
    const c = h.client;
    const { apiKey } = await c.createApiKey({
      userId,
      groupId,
      ipAllow: ["10.0.0.0/8", " 2001:db8::1 "],
      spendLimit5hUsd: "1.5",
    });
    expect(apiKey).toMatchObject({
      ipAllow: ["10.0.0.0/8", "2001:db8::1"],
      ipDeny: [],
      spendLimit5hUsd: "1.5",
    });
    const updated = await c.updateApiKey({
      id: apiKey?.id ?? "",
      replaceIpAllow: true,
      ipAllow: [],
      replaceIpDeny: true,
      ipDeny: ["192.0.2.0/24"],
      spendLimit5hUsd: "",
      spendLimit7dUsd: "40",
    });
    expect(updated.apiKey).toMatchObject({
      ipAllow: [],
      ipDeny: ["192.0.2.0/24"],
      spendLimit5hUsd: "",
      spendLimit7dUsd: "40",
    });
    await expectRpcError(
      c.createApiKey({ userId, groupId, ipDeny: ["10.0.0.0/40"] }),
      Code.InvalidArgument,
      "ip_deny",
    );
    await expectRpcError(
      c.createApiKey({ userId, groupId, ipAllow: ["host.example"] }),
      Code.InvalidArgument,
      "ip_allow",
    );
    await expectRpcError(
      c.createApiKey({ userId, groupId, spendLimit1dUsd: "0" }),
      Code.InvalidArgument,
      "spend_limit_1d_usd",
    );
  });

  it("imports an existing key by its hash once, and finds it by hash", async () => {
    const c = h.client;
    const key = `sk-${"0123456789abcdef".repeat(4)}`;
    const keySha256 = hashApiKey(key);
    const { apiKey } = await c.importApiKey({
      keySha256,
      prefix: key.slice(0, 10),
      userId,
      groupId,
      name: "moved",
      status: ApiKeyStatus.DISABLED,
      expireTime: timestampFromMs(HARNESS_START - 1000),
      quotaUsd: "10",
      quotaUsedUsd: "2.5",
    });
    expect(apiKey).toMatchObject({
      name: "moved",
      status: ApiKeyStatus.DISABLED,
      quotaUsd: "10",
      quotaUsedUsd: "2.5",
    });
    expect((await c.getApiKey({ keySha256 })).apiKey?.id).toBe(apiKey?.id);
    await expectRpcError(c.importApiKey({ keySha256, prefix: "sk-", userId, groupId }), Code.AlreadyExists);
    await expectRpcError(
      c.importApiKey({ keySha256: keySha256.subarray(1), prefix: "x", userId, groupId }),
      Code.InvalidArgument,
      "key_sha256",
    );
    await expectRpcError(c.getApiKey({ keySha256: hashApiKey("never-imported-key") }), Code.NotFound);
  });
});
