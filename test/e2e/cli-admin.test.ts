import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlaneProcess, runCli, startControlPlaneProcess } from "../support/cli.js";

/** `switchyard admin` users, groups and keys, run as an operator runs it against a control plane process. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NEVER_LISTENING = "http://127.0.0.1:9";

let cp: ControlPlaneProcess;

beforeAll(async () => {
  cp = await startControlPlaneProcess("cli_admin");
});

afterAll(async () => {
  expect(await cp?.stop()).toBe(0);
});

function admin(args: string[], env: Record<string, string> = {}) {
  return runCli(["admin", ...args], {
    SWITCHYARD_CONTROL_PLANE_URL: cp.url,
    SWITCHYARD_ADMIN_TOKEN: cp.adminToken,
    ...env,
  });
}

/** Runs a command with --json, expects success and exactly one JSON document on stdout. */
async function adminJson<T>(args: string[]): Promise<T> {
  const r = await admin([...args, "--json"]);
  expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
  return JSON.parse(r.stdout) as T;
}

interface UserJson {
  user: { id: string; name: string; status: string; balanceUsd: string; concurrency: number };
}

describe("switchyard admin users", () => {
  it("creates a user and shows it in human form", async () => {
    const r = await admin(["users", "create", "--name", "alice", "--balance", "12.5", "--concurrency", "3"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^id\s+[0-9a-f-]{36}$/m);
    expect(r.stdout).toMatch(/^name\s+alice$/m);
    expect(r.stdout).toMatch(/^balance\s+\$12\.5$/m);
    expect(r.stdout).toMatch(/^concurrency\s+3$/m);
  });

  it("creates with --json, lists every user, gets one and updates it", async () => {
    const { user } = await adminJson<UserJson>(["users", "create", "--name", "bob"]);
    expect(user).toMatchObject({
      name: "bob",
      status: "USER_STATUS_ACTIVE",
      balanceUsd: "0",
      concurrency: 5,
    });
    expect(user.id).toMatch(UUID);

    const list = await admin(["users", "list"]);
    expect(list.status).toBe(0);
    expect(list.stdout.split("\n")[0]).toMatch(
      /^ID\s+NAME\s+STATUS\s+BALANCE\s+CONCURRENCY\s+RPM\s+CREATED$/,
    );
    expect(list.stdout).toMatch(new RegExp(`^${user.id}\\s+bob\\s+active\\s+\\$0\\s+5\\s`, "m"));
    expect(list.stdout).toContain("alice");
    const listed = await adminJson<{ users: Array<{ name: string }> }>(["users", "list"]);
    expect(listed.users.map((u) => u.name)).toEqual(["alice", "bob"]);
    const firstOnly = await adminJson<{ users: unknown[]; nextPageToken: string }>([
      "users",
      "list",
      "--limit",
      "1",
    ]);
    expect(firstOnly.users).toHaveLength(1);
    expect(firstOnly.nextPageToken).not.toBe("");

    const update = await admin(["users", "update", user.id, "--balance", "7.25", "--concurrency", "0"]);
    expect(update.status).toBe(0);
    expect((await admin(["users", "update", user.id, "--status", "disabled"])).status).toBe(0);
    const shown = await admin(["users", "get", user.id]);
    expect(shown.stdout).toMatch(/^balance\s+\$7\.25$/m);
    expect(shown.stdout).toMatch(/^concurrency\s+unlimited$/m);
    expect(shown.stdout).toMatch(/^status\s+disabled$/m);
    const got = await adminJson<UserJson>(["users", "get", user.id]);
    expect(got.user).toMatchObject({ balanceUsd: "7.25", concurrency: 0, status: "USER_STATUS_DISABLED" });
  });
});

interface GroupJson {
  group: { id: string; name: string; rateMultiplier: string; billingMode: string };
}

describe("switchyard admin groups and keys", () => {
  it("creates groups and lists them", async () => {
    const human = await admin(["groups", "create", "--name", "standard", "--rate-multiplier", "1.5"]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^rate multiplier\s+1\.5$/m);
    const { group } = await adminJson<GroupJson>(["groups", "create", "--name", "premium"]);
    expect(group).toMatchObject({
      name: "premium",
      rateMultiplier: "1",
      billingMode: "BILLING_MODE_BALANCE",
    });

    const list = await admin(["groups", "list"]);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/\sstandard\s+balance\s+×1\.5\s/);
    expect(list.stdout).toMatch(new RegExp(`^${group.id}\\s+premium\\s`, "m"));
    const listed = await adminJson<{ groups: Array<{ name: string }> }>(["groups", "list"]);
    expect(listed.groups.map((g) => g.name).sort()).toEqual(["premium", "standard"]);
  });

  it("issues a key once, by group name or id, lists it and revokes it", async () => {
    const { user } = await adminJson<UserJson>(["users", "create", "--name", "key-owner"]);
    const { group } = await adminJson<GroupJson>(["groups", "get", "premium"]);

    const created = await adminJson<Record<string, unknown>>([
      "keys",
      "create",
      "--user",
      user.id,
      "--group",
      "premium",
      "--name",
      "ci",
      "--quota",
      "5",
    ]);
    expect(Object.keys(created).sort()).toEqual(["id", "key"]);
    expect(created.id).toMatch(UUID);
    expect(created.key).toMatch(/^sk-sy-[A-Za-z0-9_-]{43}$/);

    const human = await admin([
      "keys",
      "create",
      "--user",
      user.id,
      "--group",
      group.id,
      "--expires-at",
      "30d",
    ]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^key\s+sk-sy-[A-Za-z0-9_-]{43}$/m);
    expect(human.stdout).toContain("cannot be shown again");

    const list = await admin(["keys", "list", "--user", user.id]);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(
      new RegExp(`^${created.id}\\s+ci\\s+sk-sy-\\S+\\s+${user.id}\\s+${group.id}\\s+active\\s`, "m"),
    );
    expect(list.stdout).not.toContain(String(created.key));

    const revoked = await admin(["keys", "revoke", String(created.id)]);
    expect(revoked.status).toBe(0);
    expect(revoked.stdout).toMatch(/^status\s+revoked$/m);
    expect((await admin(["keys", "list", "--user", user.id])).stdout).toMatch(
      new RegExp(`^${created.id}\\s.*\\srevoked\\s`, "m"),
    );
    const listed = await adminJson<{ apiKeys: Array<{ id: string; status: string }> }>(["keys", "list"]);
    expect(listed.apiKeys).toHaveLength(2);
    expect(listed.apiKeys.find((k) => k.id === created.id)?.status).toBe("API_KEY_STATUS_REVOKED");
  });
});

describe("switchyard admin help", () => {
  it("prints usage for every admin command", async () => {
    const r = await admin(["help"]);
    expect(r.status).toBe(0);
    for (const command of [
      "users create",
      "keys revoke",
      "accounts clear-cooldown",
      "sessions clear",
      "usage summary",
    ]) {
      expect(r.stdout).toContain(command);
    }
    const one = await admin(["keys", "create", "--bogus", "--help"]);
    expect(one).toMatchObject({ status: 0, stderr: "" });
    expect(one.stdout).toContain("usage: switchyard admin keys create --user NAME|ID --group NAME|ID");
  });
});

describe("when a command fails", () => {
  /** One line on stderr, nothing on stdout. */
  function expectOneLine(r: { stdout: string; stderr: string }, pattern: RegExp) {
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^switchyard: [^\n]+\n$/);
    expect(r.stderr).toMatch(pattern);
  }

  it("exits 2 for an unknown command, flag, a missing flag or a malformed value, before any RPC", async () => {
    // The URL never answers: a call would exit 1, so 2 proves the refusal came first.
    const env = { SWITCHYARD_CONTROL_PLANE_URL: NEVER_LISTENING };
    const unknownAction = await admin(["users", "frobnicate"], env);
    expect(unknownAction.status).toBe(2);
    expectOneLine(unknownAction, /unknown command 'admin users frobnicate'/);
    expect((await admin(["widgets", "list"], env)).status).toBe(2);
    const missing = await admin(["users", "create", "--balance", "1"], env);
    expect(missing.status).toBe(2);
    expectOneLine(missing, /--name is required/);
    const malformed = await admin(["users", "create", "--name", "x", "--balance", "abc"], env);
    expect(malformed.status).toBe(2);
    expectOneLine(malformed, /--balance: expected an amount in USD.*"abc"/);
    const badTime = await admin(
      ["keys", "create", "--user", "u", "--group", "g", "--expires-at", "soon"],
      env,
    );
    expect(badTime.status).toBe(2);
    expectOneLine(badTime, /--expires-at: expected an ISO 8601 time/);
    const badUrl = await admin(
      ["accounts", "create", "--name", "a", "--base-url", "ftp://x", "--api-key", "k", "--group", "g"],
      env,
    );
    expect(badUrl.status).toBe(2);
    expectOneLine(badUrl, /--base-url: expected an http:\/\/ or https:\/\/ URL/);
    const unknownFlag = await admin(["groups", "list", "--colour"], env);
    expect(unknownFlag.status).toBe(2);
    expectOneLine(unknownFlag, /unknown flag '--colour'/);
  });

  it("exits 1 with the server's code and message", async () => {
    const unknown = "5a4f7a3e-0d3c-4c55-9a51-2f9c6e0b7d11";
    const r = await admin(["users", "get", unknown]);
    expect(r.status).toBe(1);
    expectOneLine(r, new RegExp(`^switchyard: not found: user "${unknown}" not found`));
    const duplicate = await admin(["users", "create", "--name", "alice"]);
    expect(duplicate.status).toBe(1);
    expectOneLine(duplicate, /^switchyard: already exists: /);
    const noGroup = await admin(["keys", "create", "--user", unknown, "--group", "no-such-group"]);
    expect(noGroup.status).toBe(1);
    expectOneLine(noGroup, /not found: group "no-such-group" not found/);
  });

  it("exits 1 on a wrong admin token without printing it", async () => {
    const r = await admin(["users", "list"], { SWITCHYARD_ADMIN_TOKEN: "wrong-token-value" });
    expect(r.status).toBe(1);
    expectOneLine(r, /^switchyard: unauthenticated: /);
    expect(r.stderr).not.toContain("wrong-token-value");
  });

  it("exits 1 when the control plane cannot be reached", async () => {
    const r = await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_URL: NEVER_LISTENING });
    expect(r.status).toBe(1);
    expectOneLine(r, /^switchyard: cannot reach the control plane at http:\/\/127\.0\.0\.1:9 /);
  });
});
