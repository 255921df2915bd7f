import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyStatus, UserStatus } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  startAdminHarness,
} from "../support/admin-fixtures.js";

describe("AdminService users", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_users");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("creates a user with the proto defaults, gets it, and audits and announces the creation", async () => {
    const { user } = await h.client.createUser({ name: "  alice  " });
    expect(user).toMatchObject({ name: "alice", status: UserStatus.ACTIVE, balanceUsd: "0", concurrency: 5 });
    expect(user?.createTime).toBeDefined();
    const got = await h.client.getUser({ id: user?.id ?? "" });
    expect(got.user).toEqual(user);
    expect(h.changes).toContainEqual({ kind: "user", id: user?.id });
    expect(auditLines(h, "user.create")).toContainEqual(
      expect.objectContaining({ id: user?.id, name: "alice" }),
    );
  });

  it("keeps an explicit concurrency of 0 (unlimited) and an exact balance", async () => {
    const { user } = await h.client.createUser({ name: "bob", concurrency: 0, balanceUsd: "12.000150" });
    expect(user).toMatchObject({ concurrency: 0, balanceUsd: "12.00015" });
  });

  it("refuses invalid fields with INVALID_ARGUMENT naming the field", async () => {
    await expectRpcError(h.client.createUser({ name: "" }), Code.InvalidArgument, "name");
    await expectRpcError(h.client.createUser({ name: "x".repeat(129) }), Code.InvalidArgument, "name");
    await expectRpcError(h.client.createUser({ name: "tab\tname" }), Code.InvalidArgument, "name");
    await expectRpcError(
      h.client.createUser({ name: "c1", balanceUsd: "1.0000001" }),
      Code.InvalidArgument,
      "balance_usd",
    );
    await expectRpcError(
      h.client.createUser({ name: "c2", balanceUsd: "-1" }),
      Code.InvalidArgument,
      "balance_usd",
    );
    await expectRpcError(
      h.client.createUser({ name: "c3", balanceUsd: "1e3" }),
      Code.InvalidArgument,
      "balance_usd",
    );
    await expectRpcError(
      h.client.createUser({ name: "c4", concurrency: 100_001 }),
      Code.InvalidArgument,
      "concurrency",
    );
  });

  it("answers ALREADY_EXISTS for a duplicate name, on create and on rename", async () => {
    await h.client.createUser({ name: "carol" });
    const err = await expectRpcError(h.client.createUser({ name: "carol" }), Code.AlreadyExists);
    expect(err.rawMessage).toContain("carol");
    const { user } = await h.client.createUser({ name: "dave" });
    await expectRpcError(h.client.updateUser({ id: user?.id ?? "", name: "carol" }), Code.AlreadyExists);
  });

  it("answers NOT_FOUND for unknown and malformed ids, INVALID_ARGUMENT for a missing one", async () => {
    await expectRpcError(h.client.getUser({ id: "00000000-0000-4000-8000-000000000000" }), Code.NotFound);
    await expectRpcError(h.client.getUser({ id: "not-a-uuid" }), Code.NotFound);
    await expectRpcError(h.client.getUser({ id: "" }), Code.InvalidArgument, "id");
    await expectRpcError(h.client.deleteUser({ id: "'; drop table users; --" }), Code.NotFound);
  });

  it("updates only the fields given", async () => {
    const { user } = await h.client.createUser({ name: "erin", balanceUsd: "5" });
    h.clock.advance(1000);
    const { user: updated } = await h.client.updateUser({
      id: user?.id ?? "",
      balanceUsd: "7.25",
      status: UserStatus.DISABLED,
    });
    expect(updated).toMatchObject({
      name: "erin",
      balanceUsd: "7.25",
      status: UserStatus.DISABLED,
      concurrency: 5,
    });
    expect(updated?.updateTime?.seconds).toBe((user?.updateTime?.seconds ?? 0n) + 1n);
    await expectRpcError(
      h.client.updateUser({ id: user?.id ?? "", status: UserStatus.UNSPECIFIED }),
      Code.InvalidArgument,
      "status",
    );
    expect(auditLines(h, "user.update")).toContainEqual(
      expect.objectContaining({ id: user?.id, changed: ["balance_usd", "status"] }),
    );
  });

  it("lists oldest first across pages with an opaque token", async () => {
    const names: string[] = [];
    for (let i = 0; i < 7; i++) {
      h.clock.advance(1);
      names.push(`page-user-${i}`);
      await h.client.createUser({ name: `page-user-${i}` });
    }
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await h.client.listUsers({ pageSize: 3, pageToken: token });
      expect(page.users.length).toBeLessThanOrEqual(3);
      seen.push(...page.users.map((u) => u.name));
      token = page.nextPageToken;
      pages++;
    } while (token !== "");
    expect(seen.filter((n) => n.startsWith("page-user-"))).toEqual(names);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBeGreaterThan(3);
  });

  it("pages exactly through users created at the same instant", async () => {
    for (let i = 0; i < 5; i++) await h.client.createUser({ name: `same-instant-${i}` });
    const all: string[] = [];
    let token = "";
    do {
      const page = await h.client.listUsers({ pageSize: 2, pageToken: token });
      all.push(...page.users.map((u) => u.id));
      token = page.nextPageToken;
    } while (token !== "");
    const total = (await h.sql<{ n: string }>("select count(*)::text as n from users"))[0]?.n;
    expect(all.length).toBe(Number(total));
    expect(new Set(all).size).toBe(all.length);
  });

  it("refuses a malformed page token and a negative page size, and caps the page size at 500", async () => {
    await expectRpcError(h.client.listUsers({ pageToken: "garbage" }), Code.InvalidArgument, "page_token");
    const forged = Buffer.from(JSON.stringify([1, "not-a-uuid"])).toString("base64url");
    await expectRpcError(h.client.listUsers({ pageToken: forged }), Code.InvalidArgument, "page_token");
    await expectRpcError(h.client.listUsers({ pageSize: -1 }), Code.InvalidArgument, "page_size");
    const page = await h.client.listUsers({ pageSize: 100_000 });
    expect(page.nextPageToken).toBe("");
  });

  it("deletes a user, revokes their keys and keeps their usage records", async () => {
    const { user } = await h.client.createUser({ name: "frank" });
    const { group } = await h.client.createGroup({ name: "frank-group" });
    const { apiKey } = await h.client.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" });
    await h.sql(
      `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, requested_model, upstream_model,
        endpoint, stream, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, input_cost_usd,
        cached_input_cost_usd, output_cost_usd, rate_multiplier, total_cost_usd, outcome, status_code, first_token_ms,
        duration_ms, failover_count, upstream_request_id, created_at)
       values ('req_frank', 'lse_1', ?, ?, ?, 'gpt-4o', 'gpt-4o', 'responses', false, 1, 0, 1, 0, 0, 0, 0, 1, 0,
        'completed', 200, 1, 1, 0, '', now())`,
      [user?.id, apiKey?.id, group?.id],
    );
    h.changes.length = 0;
    await h.client.deleteUser({ id: user?.id ?? "" });
    await expectRpcError(h.client.getUser({ id: user?.id ?? "" }), Code.NotFound);
    const key = await h.client.getApiKey({ id: apiKey?.id ?? "" });
    expect(key.apiKey?.status).toBe(ApiKeyStatus.REVOKED);
    expect(h.changes).toEqual([
      { kind: "api_key", id: apiKey?.id },
      { kind: "user", id: user?.id },
    ]);
    expect(await h.sql("select 1 from usage_records where request_id = 'req_frank'")).toHaveLength(1);
    expect(auditLines(h, "user.delete")).toContainEqual(expect.objectContaining({ id: user?.id }));
  });
});
