import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MikroORM } from "@mikro-orm/postgresql";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialCipher, cipherKey } from "../../src/control-plane/domain/credential-cipher.js";
import { parseChatGptCredential } from "../../src/control-plane/domain/oauth/chatgpt-credential.js";
import { AccountStatus, AccountType } from "../../src/gen/switchyard/v1/admin_pb.js";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { CODEX_USAGE, type FakeChatGpt, startFakeChatGpt } from "../support/fake-chatgpt/index.js";
import { REPO_ROOT } from "../support/repo-copy.js";
import { startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
const DAY_MS = 24 * 3_600_000;

const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
  t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : null;

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ChatGPT-subscription (Codex) accounts", () => {
  let fake: FakeChatGpt;
  let stack: Stack;
  /** A data plane whose only control plane is a second replica. */
  let secondDataPlaneUrl: string;

  beforeAll(async () => {
    fake = await startFakeChatGpt();
    stack = await startStack({
      label: "chatgpt",
      controlPlaneEnv: {
        SWITCHYARD_CHATGPT_TOKEN_URL: fake.tokenUrl,
        SWITCHYARD_CHATGPT_CODEX_BASE_URL: fake.codexBaseUrl,
      },
    });
    const replica = await stack.startControlPlaneReplica();
    secondDataPlaneUrl = (await stack.startDataPlane({ SWITCHYARD_CONTROL_PLANE_URL: replica.url })).url;
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
  });

  /** A user, a group of ChatGPT accounts (each with its own fake ChatGPT account) and an API key. */
  async function tenant(accounts: Array<{ priority?: number; concurrency?: number; expiresInMs?: number }>) {
    const tag = randomBytes(3).toString("hex");
    const { user } = await stack.admin.createUser({ name: `u-${tag}`, balanceUsd: "100", concurrency: 30 });
    const { group } = await stack.admin.createGroup({ name: `g-${tag}` });
    const created = [];
    for (const [i, a] of accounts.entries()) {
      const tokens = fake.issue(`chatgpt-${tag}-${i}`, a.expiresInMs ?? 10 * DAY_MS);
      const { account } = await stack.admin.createAccount({
        name: `chatgpt-${tag}-${i}`,
        type: AccountType.OAUTH,
        chatgpt: {
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          idToken: tokens.idToken,
        },
        concurrency: a.concurrency ?? 10,
        priority: a.priority ?? 50,
        groupIds: [group?.id ?? ""],
      });
      created.push({ id: account?.id ?? "", chatgptAccountId: tokens.chatgptAccountId, tokens });
    }
    const { key } = await stack.admin.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" });
    const client = (url = stack.dataPlane.url) =>
      new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000 });
    return { userId: user?.id ?? "", accounts: created, key, client };
  }

  const requestsOf = (chatgptAccountId: string) =>
    fake.requests.filter((r) => r.chatgptAccountId === chatgptAccountId);

  it("serves Responses and Chat Completions, streamed and not, with the Codex backend's headers and body rules", async () => {
    const t = await tenant([{}]);
    const [account] = t.accounts;
    const client = t.client();

    const response = await client.responses.create({
      model: "gpt-5",
      input: "hi",
      temperature: 0.2,
      max_output_tokens: 100,
      metadata: { app: "test" },
    });
    expect(response.output_text).toBe("Hello from Codex");
    expect(response.model).toBe("gpt-5");
    expect(response.usage?.input_tokens).toBe(CODEX_USAGE.input_tokens);

    const events = await client.responses.create({
      model: "gpt-5",
      input: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      stream: true,
      reasoning: { effort: "low" },
    });
    let streamed = "";
    let completed = false;
    for await (const event of events) {
      if (event.type === "response.output_text.delta") streamed += event.delta;
      if (event.type === "response.completed") completed = event.response.model === "gpt-5";
    }
    expect([streamed, completed]).toEqual(["Hello from Codex", true]);

    const chat = await client.chat.completions.create({
      model: "gpt-5",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      temperature: 0.5,
      max_tokens: 50,
    });
    expect(chat.choices[0]?.message.content).toBe("Hello from Codex");
    expect(chat.choices[0]?.finish_reason).toBe("stop");
    expect(chat.usage).toMatchObject({ prompt_tokens: 1200, completion_tokens: 50, total_tokens: 1250 });
    expect(chat.model).toBe("gpt-5");

    const chunks = await client.chat.completions.create({
      model: "gpt-5",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usageChunk = false;
    for await (const chunk of chunks) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.choices.length === 0 && chunk.usage?.prompt_tokens === 1200) usageChunk = true;
    }
    expect([text, finish, usageChunk]).toEqual(["Hello from Codex", "stop", true]);

    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    const called = await client.chat.completions.create({
      model: "gpt-5",
      messages: [{ role: "user", content: "weather in Paris?" }],
      tools,
    });
    expect(called.choices[0]?.finish_reason).toBe("tool_calls");
    expect(called.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: "call_1",
      type: "function",
      function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    });
    const toolStream = await client.chat.completions.create({
      model: "gpt-5",
      messages: [
        { role: "user", content: "weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_0", type: "function", function: { name: "get_weather", arguments: "{}" } },
          ],
        },
        { role: "tool", tool_call_id: "call_0", content: "sunny" },
      ],
      tools,
      stream: true,
    });
    let args = "";
    let toolFinish: string | null = null;
    for await (const chunk of toolStream) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
      toolFinish = chunk.choices[0]?.finish_reason ?? toolFinish;
    }
    expect([args, toolFinish]).toEqual(['{"city":"Paris"}', "tool_calls"]);

    const seen = requestsOf(account?.chatgptAccountId ?? "");
    expect(seen).toHaveLength(6);
    expect(seen.flatMap((r) => r.violations)).toEqual([]);
    expect(seen.map((r) => r.body.model)).toEqual(Array(6).fill("gpt-5.1"));
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${account?.tokens.accessToken}`);
    expect(seen[1]?.body.instructions).toBe("be brief");
    expect(seen[5]?.body.input).toEqual([
      { type: "message", role: "user", content: [{ type: "input_text", text: "weather in Paris?" }] },
      { type: "function_call", call_id: "call_0", name: "get_weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_0", output: "sunny" },
    ]);
  });

  it("isolates users sharing one account: their session ids and cache keys are replaced by per-user ones", async () => {
    const t = await tenant([{}]);
    const [account] = t.accounts;
    const { key: otherKey } = await stack.admin.createApiKey({
      userId: t.userId,
      groupId: (await stack.admin.getAccount({ id: account?.id ?? "" })).account?.groupIds[0] ?? "",
    });
    const send = (key: string) =>
      fetch(`${stack.dataPlane.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", session_id: "conv-1" },
        body: JSON.stringify({ model: "gpt-5", input: "hi", prompt_cache_key: "conv-1" }),
      }).then((r) => r.json());
    await send(t.key);
    await send(t.key);
    await send(otherKey);
    const seen = requestsOf(account?.chatgptAccountId ?? "");
    const sessions = seen.map((r) => r.headers.session_id);
    const caches = seen.map((r) => r.body.prompt_cache_key);
    expect(sessions[0]).toBe(sessions[1]);
    expect(sessions[2]).not.toBe(sessions[0]);
    expect(sessions).not.toContain("conv-1");
    expect(caches[0]).toBe(caches[1]);
    expect(caches[2]).not.toBe(caches[0]);
  });

  it("refreshes a token expiring in 2 min exactly once under 20 concurrent requests over two replicas", async () => {
    const t = await tenant([{ expiresInMs: 2 * 60_000, concurrency: 25 }]);
    const [account] = t.accounts;
    const id = account?.chatgptAccountId ?? "";
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t
          .client(i % 2 === 0 ? stack.dataPlane.url : secondDataPlaneUrl)
          .responses.create({ model: "gpt-5", input: `n${i}` }),
      ),
    );
    expect(results.every((r) => r.output_text === "Hello from Codex")).toBe(true);
    expect(fake.refreshes.filter((r) => r.chatgptAccountId === id)).toEqual([
      { chatgptAccountId: id, ok: true, reason: "" },
    ]);
    const latest = fake.latest(id);
    expect(new Set(requestsOf(id).map((r) => r.accessToken))).toEqual(new Set([latest?.accessToken]));

    const orm = await MikroORM.init({
      clientUrl: stack.db.url,
      entities: [],
      discovery: { warnWhenNoEntities: false },
    });
    try {
      const [row] = await orm.em
        .getConnection()
        .execute<{ credential_ciphertext: string; credential_key_id: string; credential_expires_at: Date }[]>(
          "select credential_ciphertext, credential_key_id, credential_expires_at from accounts where id = ?",
          [account?.id],
        );
      expect(row?.credential_ciphertext).not.toContain(latest?.refreshToken);
      const cipher = new CredentialCipher(cipherKey(Buffer.from(stack.secretKey, "hex")));
      const stored = parseChatGptCredential(
        cipher.open({ keyId: row?.credential_key_id ?? "", ciphertext: row?.credential_ciphertext ?? "" }),
      );
      expect(stored?.refreshToken).toBe(latest?.refreshToken);
      expect(new Date(row?.credential_expires_at ?? 0).getTime()).toBeGreaterThan(Date.now() + 9 * DAY_MS);
    } finally {
      await orm.close(true);
    }
    const { account: shown } = await stack.admin.getAccount({ id: account?.id ?? "" });
    expect(ms(shown?.tokenExpireTime)).toBeGreaterThan(Date.now() + 9 * DAY_MS);
  });

  it("skips an account whose 5 h window reports 100 % until its reset, while a second account serves", async () => {
    const t = await tenant([{ priority: 10 }, { priority: 50 }]);
    const [full, spare] = t.accounts;
    fake.behave(full?.chatgptAccountId ?? "", {
      headers: {
        "x-codex-primary-used-percent": "100",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": "3600",
        "x-codex-secondary-used-percent": "40",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": "400000",
      },
    });
    await t.client().responses.create({ model: "gpt-5", input: "first" });
    expect(requestsOf(full?.chatgptAccountId ?? "")).toHaveLength(1);
    const shown = await eventually(async () => {
      const { account } = await stack.admin.getAccount({ id: full?.id ?? "" });
      return account?.primaryWindow?.usedPercent === 100 && account.rateLimitedUntil ? account : undefined;
    });
    expect(ms(shown.rateLimitedUntil)).toBeGreaterThan(Date.now() + 3_500_000);
    expect(ms(shown.rateLimitedUntil)).toBeLessThan(Date.now() + 3_700_000);
    expect(shown.secondaryWindow).toMatchObject({ usedPercent: 40, windowMinutes: 10080 });
    expect(shown.statusReason).toContain("5 h usage window at 100 %");

    for (const input of ["second", "third"]) await t.client().responses.create({ model: "gpt-5", input });
    expect(requestsOf(full?.chatgptAccountId ?? "")).toHaveLength(1);
    expect(requestsOf(spare?.chatgptAccountId ?? "")).toHaveLength(2);

    const metrics = await (await fetch(`${stack.controlPlaneUrl}/metrics`)).text();
    expect(metrics).toContain(
      `switchyard_account_usage_window_used_percent{account_id="${full?.id}",window="primary"} 100`,
    );
  });

  it("fails a cut Codex stream over to another account for a client that did not stream", async () => {
    const t = await tenant([{ priority: 10 }, { priority: 20 }, { priority: 50 }]);
    const [ended, reset, spare] = t.accounts;
    fake.behave(ended?.chatgptAccountId ?? "", { cut: "end" });
    fake.behave(reset?.chatgptAccountId ?? "", { cut: "reset" });
    const response = await t.client().responses.create({ model: "gpt-5", input: "hi" });
    expect(response.output_text).toBe("Hello from Codex");
    expect(t.accounts.map((a) => requestsOf(a.chatgptAccountId).length)).toEqual([1, 1, 1]);
    expect(requestsOf(spare?.chatgptAccountId ?? "")).toHaveLength(1);
    expect((await fetch(`${stack.dataPlane.url}/healthz`)).status).toBe(200);
  });

  it("answers a 401 with one refresh and a retry on the same account", async () => {
    const t = await tenant([{}]);
    const [account] = t.accounts;
    const id = account?.chatgptAccountId ?? "";
    fake.revokeAccess(account?.tokens.accessToken ?? "");
    const response = await t.client().responses.create({ model: "gpt-5", input: "hi" });
    expect(response.output_text).toBe("Hello from Codex");
    expect(fake.refreshes.filter((r) => r.chatgptAccountId === id)).toHaveLength(1);
    expect(requestsOf(id).map((r) => [r.status, r.accessToken])).toEqual([
      [401, account?.tokens.accessToken],
      [200, fake.latest(id)?.accessToken],
    ]);
  });

  it("puts an account whose refresh is refused in error with the reason, and serves from another", async () => {
    const t = await tenant([{ priority: 10 }, { priority: 50 }]);
    const [broken, spare] = t.accounts;
    fake.refuseRefresh(broken?.chatgptAccountId ?? "");
    fake.revokeAccess(broken?.tokens.accessToken ?? "");
    const response = await t.client().responses.create({ model: "gpt-5", input: "hi" });
    expect(response.output_text).toBe("Hello from Codex");
    expect(requestsOf(spare?.chatgptAccountId ?? "")).toHaveLength(1);
    const { account } = await stack.admin.getAccount({ id: broken?.id ?? "" });
    expect(account?.status).toBe(AccountStatus.ERROR);
    expect(account?.statusReason).toContain("token refresh refused: 401 invalid_grant refresh token revoked");
    const { accounts } = await stack.admin.listAccounts({ groupId: account?.groupIds[0] ?? "" });
    expect(accounts.map((a) => a.type)).toEqual([AccountType.OAUTH, AccountType.OAUTH]);
  });

  it("records usage and cost from the Codex stream as for API-key accounts", async () => {
    const t = await tenant([{}]);
    const stream = await t.client().chat.completions.create({
      model: "gpt-5",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    for await (const _ of stream) {
      // drained
    }
    await t.client().responses.create({ model: "gpt-5", input: "hi" });
    const records = await eventually(async () => {
      const page = await stack.admin.listUsage({ userId: t.userId, pageSize: 10 });
      return page.records.length === 2 ? page.records : undefined;
    });
    for (const record of records) {
      expect(record.tokens).toMatchObject({
        inputTokens: 1200,
        cachedInputTokens: 200,
        outputTokens: 50,
        reasoningTokens: 10,
      });
      expect(record.outcome).toBe(Outcome.COMPLETED);
      expect(record.upstreamModel).toBe("gpt-5");
      // gpt-5 list prices: 1,000 × $1.25 + 200 × $0.125 + 50 × $10 per 1M tokens.
      expect(Number(record.totalCostUsd)).toBeCloseTo(0.001775, 9);
    }
  });

  it("serves Codex CLI (codex exec) through the gateway to a ChatGPT account", async () => {
    const t = await tenant([{}]);
    const [account] = t.accounts;
    const home = await mkdtemp(join(tmpdir(), "sy-codex-"));
    try {
      await writeFile(
        join(home, "config.toml"),
        [
          'model = "gpt-5"',
          'model_provider = "switchyard"',
          "[model_providers.switchyard]",
          'name = "Switchyard"',
          `base_url = "${stack.dataPlane.url}/v1"`,
          'env_key = "SWITCHYARD_API_KEY"',
          'wire_api = "responses"',
          "",
        ].join("\n"),
      );
      const run = promisify(execFile)(
        join(REPO_ROOT, "node_modules/.bin/codex"),
        ["exec", "--skip-git-repo-check", "say hello"],
        {
          cwd: home,
          env: { PATH: process.env.PATH ?? "", HOME: home, CODEX_HOME: home, SWITCHYARD_API_KEY: t.key },
          timeout: 60_000,
        },
      );
      run.child.stdin?.end(); // codex exec reads extra input from a stdin left open
      const { stdout } = await run;
      expect(stdout).toContain("Hello from Codex");
      const seen = requestsOf(account?.chatgptAccountId ?? "");
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.flatMap((r) => r.violations)).toEqual([]);
      expect(seen[0]?.headers.originator).toBe("codex_exec");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 90_000);
});
