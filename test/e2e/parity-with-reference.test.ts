import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStatus } from "../../src/gen/switchyard/v1/admin_pb.js";
import { runCli } from "../support/cli.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

/** What a client sees: status, Retry-After and the OpenAI-shaped error (or the response's output). */
interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { type: string; code: string | null; message: string } };
}

/**
 * What a user moving from the reference gateway expects, on one stack: the data plane sits behind a trusted proxy
 * (127.0.0.1), so each test names its client's address in x-forwarded-for.
 */
describe("parity with the reference gateway", () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await startStack({
      label: "parity",
      dataPlaneEnv: { SWITCHYARD_TRUSTED_PROXIES: "127.0.0.1/32,::1" },
    });
    tenant = await seedStackTenant(stack, {
      accounts: [
        { modelMapping: { "my-model": "gpt-4o", "gpt-4o": "" } },
        { modelMapping: { "my-model": "gpt-4o" } },
      ],
    });
  }, 60_000);
  afterAll(() => stack?.stop());

  const admin = (...args: string[]) => runCli(["admin", ...args], stack.cliEnv);
  async function adminJson<T>(...args: string[]): Promise<T> {
    const r = await admin(...args, "--json");
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    return JSON.parse(r.stdout) as T;
  }

  async function ask(
    headers: Record<string, string>,
    from = "198.51.100.1",
    body: Record<string, unknown> = { model: "my-model", input: "hi" },
  ): Promise<Answer> {
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": from, ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      body: (await res.json()) as Answer["body"],
    };
  }
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  describe("auth and session sources", () => {
    it("accepts the key in x-goog-api-key", async () => {
      expect((await ask({ "x-goog-api-key": tenant.key })).status).toBe(200);
    });

    it("binds a conversation by x-opencode-session, whatever its content", async () => {
      const { user } = await stack.admin.createUser({
        name: `oc-${randomBytes(3).toString("hex")}`,
        balanceUsd: "5",
      });
      const { key } = await stack.admin.createApiKey({ userId: user?.id ?? "", groupId: tenant.groupId });
      for (const input of ["first turn", "a different second turn"]) {
        const answer = await ask({ ...bearer(key), "x-opencode-session": "oc-session-1" }, undefined, {
          model: "my-model",
          input,
        });
        expect(answer.status).toBe(200);
      }
      const { sessions } = await stack.admin.listStickySessions({ userId: user?.id ?? "" });
      expect(sessions.length).toBe(1);
    });
  });

  describe("key controls", () => {
    it("refuses a denied address and an address outside the allow list with 403 permission_error", async () => {
      const created = await adminJson<{ id: string; key: string }>(
        "keys",
        "create",
        "--user",
        tenant.userId,
        "--group",
        tenant.groupId,
        "--ip-deny",
        "203.0.113.0/24",
      );
      const denied = await ask(bearer(created.key), "203.0.113.7");
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatchObject({ type: "permission_error", code: "ip_not_allowed" });
      expect((await ask(bearer(created.key), "198.51.100.1")).status).toBe(200);

      const updated = await admin(
        "keys",
        "update",
        created.id,
        "--ip-allow",
        "192.0.2.0/28,2001:db8::1",
        "--ip-deny",
        "",
      );
      expect(updated, updated.stderr).toMatchObject({ status: 0 });
      expect(updated.stdout).toMatch(/^ip allow\s+192\.0\.2\.0\/28, 2001:db8::1$/m);
      expect(updated.stdout).toMatch(/^ip deny\s+none$/m);
      await until(
        () => ask(bearer(created.key), "198.51.100.1"),
        (a) => a.status === 403,
        "the allow list to apply",
      );
      expect((await ask(bearer(created.key), "192.0.2.9")).status).toBe(200);
      expect((await ask(bearer(created.key), "2001:db8::1")).status).toBe(200);
    });

    it("refuses a key past its rolling spend limit with 429 rate_limit_error and Retry-After", async () => {
      const created = await adminJson<{ id: string; key: string }>(
        "keys",
        "create",
        "--user",
        tenant.userId,
        "--group",
        tenant.groupId,
        "--spend-5h",
        "0.000001",
      );
      expect((await ask(bearer(created.key))).status).toBe(200);
      const refused = await until(
        () => ask(bearer(created.key)),
        (a) => a.status === 429,
        "the spend to be billed",
      );
      expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "spend_limit_exceeded" });
      expect(refused.body.error?.message).toMatch(/last 5h/);
      // The window frees up when the first spend leaves it: about 5 hours from now.
      expect(Number(refused.retryAfter)).toBeGreaterThan(4 * 3600);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(5 * 3600);
      const shown = await admin("keys", "get", created.id);
      expect(shown.stdout).toMatch(/^spend limit 5h\/1d\/7d\s+\$0\.000001 \/ none \/ none$/m);
    });

    it("holds a user to their requests per minute, with Retry-After", async () => {
      const name = `rpm-${randomBytes(3).toString("hex")}`;
      await adminJson("users", "create", "--name", name, "--balance", "5", "--rpm", "2");
      const { key } = await adminJson<{ key: string }>(
        "keys",
        "create",
        "--user",
        name,
        "--group",
        tenant.groupId,
      );
      expect((await ask(bearer(key))).status).toBe(200);
      expect((await ask(bearer(key))).status).toBe(200);
      const refused = await ask(bearer(key));
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
      const shown = await admin("users", "list");
      expect(shown.stdout).toMatch(new RegExp(`${name}\\s+active\\s+\\$[\\d.]+\\s+5\\s+2/min`));
    });
  });

  it("records the client's address and user agent, and usage list shows them", async () => {
    const answer = await ask({ ...bearer(tenant.key), "user-agent": "parity-client/1.0" }, "198.51.100.77");
    expect(answer.status).toBe(200);
    const listed = await until(
      () => admin("usage", "list", "--user", tenant.userId),
      (r) => r.stdout.includes("parity-client/1.0"),
      "the usage record",
    );
    expect(listed.stdout.split("\n")[0]).toMatch(/CLIENT IP\s+USER AGENT$/);
    expect(listed.stdout).toMatch(/198\.51\.100\.77\s+parity-client\/1\.0/);
  });

  it("lists on /v1/models what the group's active accounts serve", async () => {
    const list = async () => {
      const res = await fetch(`${stack.dataPlane.url}/v1/models`, { headers: bearer(tenant.key) });
      return ((await res.json()) as { object: string; data: { id: string; object: string }[] }).data.map(
        (m) => m.id,
      );
    };
    expect(await list()).toEqual(["gpt-4o", "my-model"]);
    const { account } = await stack.admin.createAccount({
      name: `all-models-${randomBytes(3).toString("hex")}`,
      baseUrl: stack.fake.url,
      credential: "sk-upstream-all",
      groupIds: [tenant.groupId],
    });
    const withDefaults = await until(list, (ids) => ids.includes("gpt-5"), "the default list");
    expect(withDefaults).toContain("my-model");
    await stack.admin.updateAccount({ id: account?.id ?? "", status: AccountStatus.DISABLED });
    await until(list, (ids) => !ids.includes("gpt-5"), "the disabled account to leave the list");
  });

  it("assigns, lists and revokes subscriptions from the CLI, by user and group name", async () => {
    const userName = `sub-${randomBytes(3).toString("hex")}`;
    const groupName = `subs-${randomBytes(3).toString("hex")}`;
    await adminJson("users", "create", "--name", userName);
    await adminJson("groups", "create", "--name", groupName, "--billing", "subscription");
    const assigned = await adminJson<{ subscription: { id: string; status: string } }>(
      "subscriptions",
      "assign",
      "--user",
      userName,
      "--group",
      groupName,
      "--expires-at",
      "30d",
    );
    expect(assigned.subscription.status).toBe("SUBSCRIPTION_STATUS_ACTIVE");
    const listed = await admin("subscriptions", "list", "--user", userName);
    expect(listed.stdout).toMatch(new RegExp(`${assigned.subscription.id}\\s+\\S+\\s+\\S+\\s+active`));
    const revoked = await adminJson<{ subscription: { status: string } }>(
      "subscriptions",
      "revoke",
      assigned.subscription.id,
    );
    expect(revoked.subscription.status).toBe("SUBSCRIPTION_STATUS_CANCELLED");
    const after = await admin("subscriptions", "list", "--group", groupName);
    expect(after.stdout).toMatch(new RegExp(`${assigned.subscription.id}\\s+\\S+\\s+\\S+\\s+cancelled`));
  });
});
