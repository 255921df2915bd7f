import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlaneProcess, runCli, startControlPlaneProcess } from "../support/cli.js";
import { startFakeChatGpt } from "../support/fake-chatgpt/index.js";
import { accessTokenFor, idTokenFor } from "../support/fake-chatgpt/tokens.js";

/**
 * `switchyard admin` accounts, passthrough rules, prices and the read-only views (usage, leases, sticky sessions),
 * run as an operator runs it against a control plane process.
 */

const UPSTREAM_KEY = "sk-upstream-never-printed-7f3a";
const PROXY_PASSWORD = "proxy-password-never-printed";

let cp: ControlPlaneProcess;

beforeAll(async () => {
  cp = await startControlPlaneProcess("cli_admin_ops");
  const group = await admin(["groups", "create", "--name", "pool"]);
  expect(group.status, group.stderr).toBe(0);
});

afterAll(async () => {
  expect(await cp?.stop()).toBe(0);
});

function admin(args: string[], stdin = "") {
  return runCli(
    ["admin", ...args],
    { SWITCHYARD_CONTROL_PLANE_URL: cp.url, SWITCHYARD_ADMIN_TOKEN: cp.adminToken },
    stdin,
  );
}

/** Runs a command with --json, expects success and exactly one JSON document on stdout. */
async function adminJson<T>(args: string[], stdin = ""): Promise<{ doc: T; text: string }> {
  const r = await admin([...args, "--json"], stdin);
  expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
  return { doc: JSON.parse(r.stdout) as T, text: r.stdout };
}

interface AccountJson {
  account: {
    id: string;
    name: string;
    status: string;
    schedulable: boolean;
    priority: number;
    hasCredential: boolean;
    proxyUrl: string;
    modelMapping: Record<string, string>;
    groupIds: string[];
  };
}

describe("switchyard admin accounts", () => {
  it("creates an account, never showing its key, and changes it", async () => {
    const created = await admin([
      "accounts",
      "create",
      "--name",
      "openai-1",
      "--base-url",
      "https://api.openai.com",
      "--api-key",
      UPSTREAM_KEY,
      "--group",
      "pool",
      "--priority",
      "10",
      "--models",
      "gpt-4o,gpt-5*",
      "--model-map",
      "o3=o3-pro",
      "--proxy",
      `http://proxy-user:${PROXY_PASSWORD}@127.0.0.1:3128`,
    ]);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^name\s+openai-1$/m);
    expect(created.stdout).toMatch(/^models\s+gpt-4o, gpt-5\*, o3 → o3-pro$/m);
    expect(created.stdout).toMatch(/^credential\s+stored$/m);
    for (const secret of [UPSTREAM_KEY, PROXY_PASSWORD]) expect(created.stdout).not.toContain(secret);
    const id = /^id\s+(\S+)$/m.exec(created.stdout)?.[1] ?? "";

    const { doc, text } = await adminJson<AccountJson>(["accounts", "get", id]);
    expect(doc.account).toMatchObject({
      name: "openai-1",
      status: "ACCOUNT_STATUS_ACTIVE",
      schedulable: true,
      priority: 10,
      hasCredential: true,
      modelMapping: { "gpt-4o": "", "gpt-5*": "", o3: "o3-pro" },
    });
    expect(doc.account.proxyUrl).toContain("proxy-user:***@127.0.0.1:3128");
    for (const secret of [UPSTREAM_KEY, PROXY_PASSWORD]) expect(text).not.toContain(secret);

    const update = await admin(["accounts", "update", id, "--status", "disabled", "--schedulable", "false"]);
    expect(update.status, update.stderr).toBe(0);
    expect(
      (await admin(["accounts", "update", id, "--priority", "7", "--model-map", "gpt-4o=gpt-4o-mini"]))
        .status,
    ).toBe(0);
    const shown = await admin(["accounts", "get", id]);
    expect(shown.stdout).toMatch(/^status\s+disabled$/m);
    expect(shown.stdout).toMatch(/^schedulable\s+no$/m);
    expect(shown.stdout).toMatch(/^priority\s+7$/m);
    expect(shown.stdout).toMatch(/^models\s+gpt-4o → gpt-4o-mini$/m);

    const cleared = await admin(["accounts", "clear-cooldown", id]);
    expect(cleared.status, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/^rate-limited until\s+-$/m);
    expect(cleared.stdout).toMatch(/^unschedulable until\s+-$/m);
  });

  it("reads the key from standard input with --api-key - and lists accounts", async () => {
    const { doc, text } = await adminJson<AccountJson>(
      [
        "accounts",
        "create",
        "--name",
        "local-1",
        "--base-url",
        "http://127.0.0.1:9",
        "--api-key",
        "-",
        "--group",
        "pool",
      ],
      `${UPSTREAM_KEY}\n`,
    );
    expect(doc.account).toMatchObject({ name: "local-1", hasCredential: true, modelMapping: {} });
    expect(text).not.toContain(UPSTREAM_KEY);

    const list = await admin(["accounts", "list"]);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/\sopenai-1\s+apikey\s+disabled\s+no\s+7\s+3\s+https:\/\/api\.openai\.com\s/);
    expect(list.stdout).toMatch(
      new RegExp(`^${doc.account.id}\\s+local-1\\s+apikey\\s+active\\s+yes\\s+50\\s+3\\s.*\\sall\\s`, "m"),
    );
    const listed = await adminJson<{ accounts: Array<{ name: string }> }>([
      "accounts",
      "list",
      "--group",
      "pool",
    ]);
    expect(listed.doc.accounts.map((a) => a.name).sort()).toEqual(["local-1", "openai-1"]);
    expect(listed.text).not.toContain(UPSTREAM_KEY);
  });
});

interface RuleJson {
  rule: {
    id: string;
    errorCodes: number[];
    keywords: string[];
    matchMode: string;
    passthroughCode: boolean;
    responseCode: number;
    passthroughBody: boolean;
    customMessage: string;
  };
}

describe("switchyard admin accounts --kind chatgpt", () => {
  it("adds a ChatGPT account from Codex CLI's auth.json, never showing its tokens, and shows it as chatgpt", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sy-auth-"));
    const tokens = {
      access_token: accessTokenFor("chatgpt-cli-1", Date.UTC(2031, 0, 1)),
      refresh_token: "rt_never-printed-Ka81",
      id_token: idTokenFor("chatgpt-cli-1"),
      account_id: "chatgpt-cli-1",
    };
    await writeFile(
      join(dir, "auth.json"),
      JSON.stringify({ OPENAI_API_KEY: null, tokens, last_refresh: "2026-01-01T00:00:00Z" }),
    );
    try {
      const args = ["accounts", "create", "--kind", "chatgpt", "--name", "sub-1", "--group", "pool"];
      const created = await adminJson<{ account: { id: string; type: string; baseUrl: string } }>([
        ...args,
        "--auth-file",
        join(dir, "auth.json"),
      ]);
      expect(created.doc.account).toMatchObject({
        type: "ACCOUNT_TYPE_OAUTH",
        baseUrl: "https://chatgpt.com/backend-api/codex",
      });
      expect(created.text).not.toContain(tokens.refresh_token);
      expect(created.text).not.toContain(tokens.access_token);
      const shown = await admin(["accounts", "get", created.doc.account.id]);
      expect(shown.stdout).toMatch(/type\s+chatgpt/);
      expect(shown.stdout).toMatch(/token expires\s+2031-01-01/);
      expect(shown.stdout).toMatch(/5 h window\s+not reported/);
      const listed = await admin(["accounts", "list"]);
      expect(listed.stdout).toMatch(/sub-1\s+chatgpt/);

      const missing = await admin([
        ...args.slice(0, -4),
        "--name",
        "sub-2",
        "--group",
        "pool",
        "--auth-file",
        join(dir, "none.json"),
      ]);
      expect(missing).toMatchObject({ status: 2 });
      expect(missing.stderr).toContain("none.json: ENOENT");
      const noKind = await admin([
        "accounts",
        "create",
        "--name",
        "sub-3",
        "--group",
        "pool",
        "--auth-file",
        join(dir, "auth.json"),
      ]);
      expect(noKind).toMatchObject({ status: 2 });
      expect(noKind.stderr).toContain("ChatGPT tokens need --kind chatgpt");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("switchyard admin accounts login-chatgpt", () => {
  it("logs in with PKCE from a pasted redirect URL and adds the account; another login's URL is refused", async () => {
    const fake = await startFakeChatGpt();
    try {
      const login = (name: string, pasted: string) =>
        admin(
          [
            "accounts",
            "login-chatgpt",
            "--name",
            name,
            "--group",
            "pool",
            "--token-url",
            fake.tokenUrl,
            "--json",
          ],
          `${pasted}\n`,
        );
      const code = fake.authorizationCode("chatgpt-login-1");
      const ok = await login("sub-login", `http://localhost:1455/auth/callback?code=${code}`);
      expect(ok.status, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout).account).toMatchObject({ name: "sub-login", type: "ACCOUNT_TYPE_OAUTH" });
      expect(ok.stdout).not.toContain(fake.latest("chatgpt-login-1")?.refreshToken);
      const authorize = new URL(ok.stderr.match(/https?:\/\/\S+/)?.[0] ?? "");
      expect(authorize.origin + authorize.pathname).toBe(
        new URL("/oauth/authorize", fake.tokenUrl).toString(),
      );
      expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
      expect(authorize.searchParams.get("redirect_uri")).toBe("http://localhost:1455/auth/callback");
      const challenge = createHash("sha256")
        .update(fake.verifiers[0] ?? "")
        .digest("base64url");
      expect(authorize.searchParams.get("code_challenge")).toBe(challenge);

      const other = fake.authorizationCode("chatgpt-login-2");
      const refused = await login(
        "sub-login-2",
        `http://localhost:1455/auth/callback?code=${other}&state=another`,
      );
      expect(refused).toMatchObject({ status: 1 });
      expect(refused.stderr).toContain("belongs to another login");
    } finally {
      await fake.close();
    }
  });
});

describe("switchyard admin rules and prices", () => {
  it("creates passthrough rules, lists them in order and deletes one", async () => {
    const human = await admin([
      "rules",
      "create",
      "--name",
      "busy",
      "--codes",
      "429,503",
      "--message",
      "Try later",
    ]);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^codes\s+429, 503$/m);
    const { doc } = await adminJson<RuleJson>([
      "rules",
      "create",
      "--name",
      "billing",
      "--keywords",
      "quota,billing",
      "--match",
      "all",
      "--codes",
      "402",
      "--response-code",
      "403",
      "--priority",
      "-1",
    ]);
    expect(doc.rule).toMatchObject({
      errorCodes: [402],
      keywords: ["quota", "billing"],
      matchMode: "MATCH_MODE_ALL",
      passthroughCode: false,
      responseCode: 403,
      passthroughBody: true,
    });

    const list = await admin(["rules", "list"]);
    expect(list.status).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[1]).toMatch(/\sbilling\s+yes\s+-1\s+all\s+402\s+quota,billing\s+403, upstream message$/);
    expect(lines[2]).toMatch(/\sbusy\s+yes\s+0\s+any\s+429,503\s+-\s+upstream status, "Try later"$/);
    const listed = await adminJson<{ rules: RuleJson["rule"][] }>(["rules", "list"]);
    expect(listed.doc.rules[1]).toMatchObject({ passthroughBody: false, customMessage: "Try later" });

    const deleted = await admin(["rules", "delete", doc.rule.id]);
    expect(deleted).toMatchObject({ status: 0, stdout: `deleted rule ${doc.rule.id}\n` });
    const after = await adminJson<{ rules: Array<{ id: string }> }>(["rules", "list"]);
    expect(after.doc.rules.map((r) => r.id)).not.toContain(doc.rule.id);
  });

  it("sets prices per 1M tokens and lists them", async () => {
    const set = await admin([
      "prices",
      "set",
      "--model",
      "gpt-4o",
      "--input",
      "2.75",
      "--cached-input",
      "1.375",
      "--output",
      "11",
    ]);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^output per 1M tokens\s+\$11$/m);
    const list = await admin(["prices", "list"]);
    expect(list.stdout).toMatch(/^gpt-4o\s+\$2\.75\s+\$1\.375\s+\$11\s/m);
    const listed = await adminJson<{ prices: unknown[] }>(["prices", "list"]);
    // The seeded list prices of other models are listed too; gpt-4o shows the operator's value.
    expect(listed.doc.prices).toContainEqual(
      expect.objectContaining({
        model: "gpt-4o",
        inputUsdPerMtok: "2.75",
        cachedInputUsdPerMtok: "1.375",
        outputUsdPerMtok: "11",
      }),
    );
    const missing = await admin(["prices", "set", "--model", "gpt-4o", "--input", "1", "--output", "2"]);
    expect(missing.status).toBe(2);
  });
});

describe("switchyard admin usage, leases and sessions on an idle gateway", () => {
  it("shows no usage", async () => {
    expect(await admin(["usage", "list", "--since", "7d"])).toMatchObject({
      status: 0,
      stdout: "no usage records\n",
    });
    expect(
      (await adminJson(["usage", "list", "--user", "5a4f7a3e-0d3c-4c55-9a51-2f9c6e0b7d11"])).doc,
    ).toEqual({
      records: [],
      nextPageToken: "",
    });
    expect(await admin(["usage", "summary"])).toMatchObject({ status: 0, stdout: "no usage\n" });
    expect((await adminJson(["usage", "summary", "--group-by", "account"])).doc).toEqual({ rows: [] });
    expect((await admin(["usage", "summary", "--group-by", "region"])).status).toBe(2);
  });

  it("shows no leases or sticky sessions and clears none", async () => {
    expect(await admin(["leases", "list"])).toMatchObject({ status: 0, stdout: "no leases\n" });
    expect((await adminJson(["leases", "list", "--account", "x"])).doc).toEqual({ leases: [] });
    expect(await admin(["sessions", "list"])).toMatchObject({ status: 0, stdout: "no sticky sessions\n" });
    const user = "5a4f7a3e-0d3c-4c55-9a51-2f9c6e0b7d11";
    expect(await admin(["sessions", "clear", "--user", user])).toMatchObject({
      status: 0,
      stdout: "cleared 0 sticky sessions\n",
    });
    expect((await adminJson(["sessions", "clear", "--user", user])).doc).toEqual({ cleared: 0 });
    expect((await admin(["sessions", "clear"])).status).toBe(2);
  });
});
