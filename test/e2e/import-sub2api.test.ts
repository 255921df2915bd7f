import { randomBytes } from "node:crypto";
import { MikroORM } from "@mikro-orm/postgresql";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialCipher, cipherKey } from "../../src/control-plane/domain/credential-cipher.js";
import { parseChatGptCredential } from "../../src/control-plane/domain/oauth/chatgpt-credential.js";
import { AccountType } from "../../src/gen/switchyard/v1/admin_pb.js";
import { runCli } from "../support/cli.js";
import { type FakeChatGpt, type IssuedTokens, startFakeChatGpt } from "../support/fake-chatgpt/index.js";
import { type Socks5Server, startSocks5Server } from "../support/socks5-server.js";
import { startStack } from "../support/stack.js";
import {
  createSub2apiDatabase,
  type Sub2apiDatabase,
  sub2apiChatGptCredentials,
} from "../support/sub2api-fixture.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
const DAY_MS = 24 * 3_600_000;

/** `switchyard import sub2api` against a database built from the reference system's schema, then a real request. */
describe("switchyard import sub2api", () => {
  let stack: Stack;
  let source: Sub2apiDatabase;
  let socks: Socks5Server;
  let chatgpt: FakeChatGpt;
  /** The subscription sub2api holds as its oauth account chatgpt-plus (the fake Codex backend knows its tokens). */
  let plus: IssuedTokens;
  /** sub2api's key format: "sk-" + hex, kept by its holder across the move. */
  const aliceKey = `sk-${randomBytes(32).toString("hex")}`;
  const bobKey = `sk-${randomBytes(32).toString("hex")}`;

  beforeAll(async () => {
    chatgpt = await startFakeChatGpt();
    [stack, source, socks] = await Promise.all([
      startStack({
        label: "import_sub2api",
        controlPlaneEnv: {
          SWITCHYARD_CHATGPT_TOKEN_URL: chatgpt.tokenUrl,
          SWITCHYARD_CHATGPT_CODEX_BASE_URL: chatgpt.codexBaseUrl,
        },
      }),
      createSub2apiDatabase("sub2api_source"),
      startSocks5Server(),
    ]);
    plus = chatgpt.issue("chatgpt-acct-plus", 10 * DAY_MS);
    const sql = source.sql;
    await sql(`insert into users (id, email, username, balance, frozen_balance, concurrency, role, rpm_limit, status)
      values (1, 'alice@example.com', 'alice', 12.345678, 0, 4, 'user', 0, 'active'),
             (2, 'bob@example.com', null, 0, 0, 5, 'user', 0, 'active'),
             (3, 'carol@example.com', 'carol', 1.5, 2, 5, 'admin', 30, 'disabled')`);
    await sql(
      `insert into users (id, email, username, deleted_at) values (4, 'gone@example.com', 'gone', now())`,
    );
    await sql(`insert into groups (id, name, platform, rate_multiplier, subscription_type, daily_limit_usd)
      values (1, 'default', 'openai', 1.5, 'standard', null), (2, 'pro', 'openai', 1, 'subscription', 5),
             (3, 'claude', 'anthropic', 1, 'standard', null)`);
    await sql(`insert into proxies (id, protocol, host, port) values (1, 'socks5', '127.0.0.1', ?)`, [
      socks.port,
    ]);
    await sql(
      `insert into accounts (id, name, platform, type, credentials, proxy_id, concurrency, priority)
      values (1, 'openai-main', 'openai', 'apikey', ?::jsonb, 1, 7, 10),
             (2, 'chatgpt-plus', 'openai', 'oauth', ?::jsonb, 1, 2, 20),
             (3, 'claude-1', 'anthropic', 'apikey', '{"api_key":"sk-ant"}', null, 3, 50),
             (4, 'chatgpt-stale', 'openai', 'oauth', '{"access_token":"at-without-refresh"}', null, 3, 50)`,
      [
        JSON.stringify({
          api_key: "sk-upstream-imported",
          base_url: stack.fake.url,
          model_mapping: { "my-model": "gpt-4o" },
        }),
        sub2apiChatGptCredentials(plus, new Date(Date.now() + 10 * DAY_MS), { "codex-model": "gpt-5" }),
      ],
    );
    await sql(
      `insert into account_groups (account_id, group_id, priority)
      values (1, 1, 10), (1, 2, 10), (2, 1, 20), (4, 1, 50)`,
    );
    await sql(
      `insert into api_keys (user_id, key, name, group_id, quota, ip_whitelist) values
        (1, ?, 'laptop', 1, 0, null), (2, ?, 'ci', 2, 20, '["10.0.0.0/8"]'), (1, 'sk-nogroup-0123456789abcdef', 'x', null, 0, null)`,
      [aliceKey, bobKey],
    );
    await sql(
      `insert into api_keys (user_id, key, group_id, deleted_at) values (1, 'sk-deleted-0123456789abcd', 1, now())`,
    );
    await sql(`insert into user_subscriptions (user_id, group_id, starts_at, expires_at, status)
      values (2, 2, now() - interval '1 day', now() + interval '30 days', 'active'),
             (1, 2, now() - interval '60 days', now() - interval '30 days', 'expired')`);
    await sql(`insert into error_passthrough_rules (name, priority, error_codes, keywords, platforms, passthrough_code,
        response_code, passthrough_body, custom_message)
      values ('overloaded', 1, '{529}', '{}', '{openai}', false, 503, false, 'Busy, retry soon'),
             ('claude-only', 2, '{400}', '{}', '{anthropic}', true, null, true, null)`);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await source?.drop();
    await socks?.close();
    await chatgpt?.close();
  });

  const importCli = (...args: string[]) =>
    runCli(["import", "sub2api", "--database-url", source.url, ...args], stack.cliEnv);

  it("a dry run prints the plan and what is not carried, and writes nothing", async () => {
    const r = await importCli();
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(r.stdout).toContain("dry run, nothing written");
    expect(r.stdout).toMatch(/^user\s+3\s+0\s+0\s+0$/m);
    expect(r.stdout).toMatch(/^group\s+2\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^account\s+1\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^chatgpt account\s+1\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^api key\s+2\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^subscription\s+1\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^rule\s+1\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(
      /^ChatGPT accounts to move \(a refresh token works once[\s\S]*?:\n {2}chatgpt-plus$/m,
    );
    expect(r.stdout).toContain("chatgpt account chatgpt-plus: credentials email, plan_type not carried");
    expect(r.stdout).toContain("chatgpt account chatgpt-stale: no refresh_token in its credentials");
    for (const token of [plus.accessToken, plus.refreshToken]) expect(r.stdout).not.toContain(token);
    expect(r.stdout).toContain("group claude: platform anthropic is not served by Switchyard");
    expect(r.stdout).toContain("api key sk-nogroup… x: it has no group");
    expect(r.stdout).not.toContain(aliceKey);
    expect((await stack.admin.listUsers({})).users).toEqual([]);
  });

  it("--apply imports; an imported plaintext key works through the gateway, over the account's SOCKS5 proxy", async () => {
    const r = await importCli("--apply");
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(r.stdout).toMatch(/^user\s+3\s+0\s+0\s+0$/m);
    expect(r.stdout).toMatch(/^chatgpt account\s+1\s+0\s+0\s+1$/m);
    expect(r.stdout).toMatch(/^ChatGPT accounts moved [\s\S]*?:\n {2}chatgpt-plus$/m);
    for (const token of [plus.accessToken, plus.refreshToken]) expect(r.stdout).not.toContain(token);
    const { user: bob } = await stack.admin.getUser({ name: "bob@example.com" });
    expect(bob).toMatchObject({ balanceUsd: "0", concurrency: 5 });
    const { user: alice } = await stack.admin.getUser({ name: "alice" });
    expect(alice).toMatchObject({ balanceUsd: "12.345678", concurrency: 4 });
    const { accounts } = await stack.admin.listAccounts({});
    expect(accounts.map((a) => a.name).sort()).toEqual(["chatgpt-plus", "openai-main"]);
    expect(accounts.find((a) => a.name === "openai-main")).toMatchObject({
      type: AccountType.API_KEY,
      priority: 10,
      concurrency: 7,
      modelMapping: { "my-model": "gpt-4o" },
      proxyUrl: `socks5://127.0.0.1:${socks.port}`,
    });
    const { apiKeys } = await stack.admin.listApiKeys({ userId: bob?.id ?? "" });
    expect(apiKeys).toEqual([
      expect.objectContaining({ name: "ci", ipAllow: ["10.0.0.0/8"], quotaUsd: "20" }),
    ]);
    const { user: carol } = await stack.admin.getUser({ name: "carol" });
    expect(carol).toMatchObject({ rpmLimit: 30, status: 2 });

    const client = new OpenAI({ apiKey: aliceKey, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: "my-model", input: "hello after the move" });
    expect(response.status).toBe("completed");
    expect(stack.fake.requests.at(-1)?.apiKey).toBe("sk-upstream-imported");
    expect(socks.connects.length).toBeGreaterThanOrEqual(1);
  });

  it("--apply carries the ChatGPT account: type OAUTH with its token expiry, tokens sealed, and it serves", async () => {
    const { accounts } = await stack.admin.listAccounts({});
    const listed = accounts.find((a) => a.name === "chatgpt-plus");
    const { account } = await stack.admin.getAccount({ id: listed?.id ?? "" });
    const defaultGroup = (await stack.admin.getGroup({ name: "default" })).group;
    expect(account).toMatchObject({
      type: AccountType.OAUTH,
      hasCredential: true,
      baseUrl: chatgpt.codexBaseUrl,
      priority: 20,
      concurrency: 2,
      modelMapping: { "codex-model": "gpt-5" },
      groupIds: [defaultGroup?.id],
      proxyUrl: `socks5://127.0.0.1:${socks.port}`,
    });
    const exp = JSON.parse(Buffer.from(plus.accessToken.split(".")[1] ?? "", "base64url").toString()) as {
      exp: number;
    };
    expect(Number(account?.tokenExpireTime?.seconds)).toBe(exp.exp);
    expect(listed?.tokenExpireTime?.seconds).toBe(account?.tokenExpireTime?.seconds);

    const orm = await MikroORM.init({
      clientUrl: stack.db.url,
      entities: [],
      discovery: { warnWhenNoEntities: false },
    });
    try {
      const [row] = await orm.em
        .getConnection()
        .execute<{ whole: string; credential_ciphertext: string; credential_key_id: string }[]>(
          "select row_to_json(a)::text as whole, credential_ciphertext, credential_key_id from accounts a where id = ?",
          [account?.id],
        );
      for (const token of [plus.accessToken, plus.refreshToken, plus.chatgptAccountId])
        expect(row?.whole).not.toContain(token);
      const cipher = new CredentialCipher(cipherKey(Buffer.from(stack.secretKey, "hex")));
      const stored = parseChatGptCredential(
        cipher.open({ keyId: row?.credential_key_id ?? "", ciphertext: row?.credential_ciphertext ?? "" }),
      );
      expect(stored).toMatchObject({
        accessToken: plus.accessToken,
        refreshToken: plus.refreshToken,
        chatgptAccountId: plus.chatgptAccountId,
        expiresAt: exp.exp * 1000,
      });
    } finally {
      await orm.close(true);
    }

    const proxied = socks.connects.length;
    const client = new OpenAI({ apiKey: aliceKey, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: "codex-model", input: "hello, subscription" });
    expect(response.output_text).toBe("Hello from Codex");
    expect(chatgpt.requests.at(-1)).toMatchObject({
      chatgptAccountId: plus.chatgptAccountId,
      accessToken: plus.accessToken,
      violations: [],
    });
    expect(socks.connects.length).toBeGreaterThan(proxied);
  });

  it("a second --apply changes nothing", async () => {
    const r = await importCli("--apply", "--json");
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    const report = JSON.parse(r.stdout) as { results: { kind: string; outcome: string }[] };
    expect(report.results.length).toBe(11);
    expect(report.results.every((x) => x.outcome === "present")).toBe(true);
    expect(report.results.filter((x) => x.kind === "chatgpt account")).toHaveLength(1);
    expect((await stack.admin.listAccounts({})).accounts).toHaveLength(2);
    for (const token of [plus.accessToken, plus.refreshToken]) expect(r.stdout).not.toContain(token);
  });

  it("admin keys import adds one existing key, read from standard input", async () => {
    const key = `sk-${randomBytes(24).toString("hex")}`;
    const r = await runCli(
      ["admin", "keys", "import", "--user", "alice", "--group", "default", "--name", "moved", "--json"],
      stack.cliEnv,
      `${key}\n`,
    );
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(JSON.parse(r.stdout)).toMatchObject({ apiKey: { name: "moved", prefix: key.slice(0, 10) } });
    const again = await runCli(
      ["admin", "keys", "import", "--user", "alice", "--group", "default"],
      stack.cliEnv,
      key,
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const client = new OpenAI({ apiKey: key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    expect((await client.responses.create({ model: "my-model", input: "hi" })).status).toBe("completed");
  });
});
