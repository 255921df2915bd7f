import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStatus } from "../../src/gen/switchyard/v1/admin_pb.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

/** Epoch ms of a protobuf Timestamp, or null. */
const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
  t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : null;

describe("failover between upstream accounts", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_failover" });
  });
  afterAll(() => stack?.stop());

  /** A tenant with a preferred account (priority 10) and a backup (priority 50). */
  async function twoAccounts() {
    const tenant = await seedStackTenant(stack, { accounts: [{ priority: 10 }, { priority: 50 }] });
    const [first, second] = tenant.accounts as [
      { id: string; credential: string },
      { id: string; credential: string },
    ];
    const client = (url = stack.dataPlane.url) =>
      new OpenAI({ apiKey: tenant.key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 });
    const served = (since: number) => stack.fake.requests.slice(since).map((r) => r.apiKey);
    return { tenant, first, second, client, served };
  }

  it("moves a 429 to the next account and rate-limits the first until its Retry-After", async () => {
    const { first, second, client, served } = await twoAccounts();
    stack.fake.script({
      match: { apiKey: first.credential },
      status: 429,
      headers: { "retry-after": "30" },
      times: 1,
    });
    const before = stack.fake.requests.length;
    const response = await client().responses.create({ model: "gpt-4o", input: "hi" });
    expect(response.status).toBe("completed");
    expect(served(before)).toEqual([first.credential, second.credential]);
    const { account } = await stack.admin.getAccount({ id: first.id });
    const until = ms(account?.rateLimitedUntil);
    expect(until).toBeGreaterThan(Date.now() + 25_000);
    expect(until).toBeLessThan(Date.now() + 31_000);
    const again = stack.fake.requests.length;
    await client().responses.create({ model: "gpt-4o", input: "again" });
    expect(served(again)).toEqual([second.credential]);
  });

  it("moves a 500 to the next account; one 5xx costs nothing, a second in a row cools the account 10 s", async () => {
    const { first, second, client, served } = await twoAccounts();
    stack.fake.script({ match: { apiKey: first.credential }, status: 500, times: 1 });
    let before = stack.fake.requests.length;
    await client().responses.create({ model: "gpt-4o", input: "hi" });
    expect(served(before)).toEqual([first.credential, second.credential]);
    let { account } = await stack.admin.getAccount({ id: first.id });
    expect(ms(account?.tempUnschedulableUntil)).toBeNull();

    stack.fake.script({ match: { apiKey: first.credential }, status: 502, times: 1 });
    before = stack.fake.requests.length;
    await client().responses.create({ model: "gpt-4o", input: "hi" });
    expect(served(before)).toEqual([first.credential, second.credential]);
    ({ account } = await stack.admin.getAccount({ id: first.id }));
    const until = ms(account?.tempUnschedulableUntil);
    expect(until).toBeGreaterThan(Date.now() + 7_000);
    expect(until).toBeLessThan(Date.now() + 11_000);
  });

  it("moves a connection reset to the next account and cools the first for a minute", async () => {
    const { first, second, client, served } = await twoAccounts();
    stack.fake.script({ match: { apiKey: first.credential }, reset: "before-headers", times: 1 });
    const before = stack.fake.requests.length;
    const response = await client().responses.create({ model: "gpt-4o", input: "hi" });
    expect(response.status).toBe("completed");
    expect(served(before)).toEqual([first.credential, second.credential]);
    const { account } = await stack.admin.getAccount({ id: first.id });
    const until = ms(account?.tempUnschedulableUntil);
    expect(until).toBeGreaterThan(Date.now() + 50_000);
    expect(until).toBeLessThan(Date.now() + 61_000);
  });

  it("moves a request whose upstream sends no headers in time to the next account", async () => {
    const dp = await stack.startDataPlane({ SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS: "1000" });
    const { first, second, client, served } = await twoAccounts();
    stack.fake.script({ match: { apiKey: first.credential }, stall: "before-headers", times: 1 });
    const before = stack.fake.requests.length;
    const started = Date.now();
    const response = await client(dp.url).responses.create({ model: "gpt-4o", input: "hi" });
    expect(response.status).toBe("completed");
    expect(Date.now() - started).toBeGreaterThan(900);
    expect(served(before)).toEqual([first.credential, second.credential]);
    const { account } = await stack.admin.getAccount({ id: first.id });
    expect(ms(account?.tempUnschedulableUntil)).toBeGreaterThan(Date.now() + 50_000);
  });

  it("answers BEHAVIOUR.md's mapped error when every account fails", async () => {
    const { first, second, client } = await twoAccounts();
    for (const account of [first, second]) {
      stack.fake.script({ match: { apiKey: account.credential }, status: 503, times: 1 });
    }
    const err = await client()
      .responses.create({ model: "gpt-4o", input: "hi" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain(
      "Upstream service temporarily unavailable",
    );

    const limited = await twoAccounts();
    for (const account of [limited.first, limited.second]) {
      stack.fake.script({
        match: { apiKey: account.credential },
        status: 429,
        headers: { "retry-after": "7" },
        times: 1,
      });
    }
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${limited.tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.json()).toMatchObject({
      error: { type: "rate_limit_error", message: "Upstream rate limit exceeded, please retry later" },
    });
  });

  it("penalises every account of an exhausted chain, the last attempt included", async () => {
    // Four accounts and three switches: the fourth attempt is the last, and is refused too.
    const tenant = await seedStackTenant(stack, {
      accounts: [{ priority: 10 }, { priority: 20 }, { priority: 30 }, { priority: 40 }],
    });
    const [a, b, c, d] = tenant.accounts as [
      { id: string; credential: string },
      { id: string; credential: string },
      { id: string; credential: string },
      { id: string; credential: string },
    ];
    for (const account of [a, b, c, d]) {
      stack.fake.script({
        match: { apiKey: account.credential },
        status: 429,
        headers: { "retry-after": "30" },
        times: 1,
      });
    }
    const send = () =>
      fetch(`${stack.dataPlane.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
      });
    const before = stack.fake.requests.length;
    expect((await send()).status).toBe(429);
    expect(stack.fake.requests.slice(before).map((r) => r.apiKey)).toEqual(
      [a, b, c, d].map((x) => x.credential),
    );
    // The release carries the last refusal: wait for its penalty rather than for time.
    const limitedUntil = async (id: string) =>
      ms((await stack.admin.getAccount({ id })).account?.rateLimitedUntil);
    await expect.poll(() => limitedUntil(d.id), { timeout: 10_000 }).toBeGreaterThan(Date.now() + 20_000);
    for (const account of [a, b, c])
      expect(await limitedUntil(account.id)).toBeGreaterThan(Date.now() + 20_000);

    // A 401 on the last attempt puts that account in error, as it would on any other attempt.
    const second = await seedStackTenant(stack, {
      accounts: [{ priority: 10 }, { priority: 20 }, { priority: 30 }, { priority: 40 }],
    });
    const last = second.accounts[3] as { id: string; credential: string };
    for (const account of second.accounts.slice(0, 3)) {
      stack.fake.script({ match: { apiKey: account.credential }, status: 503, times: 1 });
    }
    stack.fake.script({ match: { apiKey: last.credential }, status: 401, times: 1 });
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${second.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    expect(res.status).toBe(502);
    await expect
      .poll(async () => (await stack.admin.getAccount({ id: last.id })).account?.status, { timeout: 10_000 })
      .toBe(AccountStatus.ERROR);
  });

  it("fails an overloaded response.failed before output over, and words another with a passthrough rule", async () => {
    const { first, second, tenant } = await twoAccounts();
    const stream = (key = tenant.key) =>
      fetch(`${stack.dataPlane.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", input: "hi", stream: true }),
      });
    // Overloaded as the first event: another account answers, the client never sees the failure.
    stack.fake.script({
      match: { apiKey: first.credential },
      failed: { code: "server_is_overloaded", message: "The server is overloaded, try later" },
      times: 1,
    });
    let before = stack.fake.requests.length;
    let res = await stream();
    let text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain("event: response.completed");
    expect(text).not.toContain("overloaded");
    expect(stack.fake.requests.slice(before).map((r) => r.apiKey)).toEqual([
      first.credential,
      second.credential,
    ]);

    // Any other failure before output is the answer, in the words of a matching passthrough rule (a new tenant:
    // the overloaded account is cooling down).
    const fresh = await twoAccounts();
    const tag = `vault-${Date.now().toString(36)}`;
    const { rule } = await stack.admin.createPassthroughRule({
      name: tag,
      keywords: [tag],
      passthroughCode: false,
      responseCode: 422,
      passthroughBody: false,
      customMessage: "Ask your administrator",
    });
    const upstreamText = `Content blocked by ${tag}`;
    try {
      const deadline = Date.now() + 5_000;
      for (;;) {
        stack.fake.script({
          match: { apiKey: fresh.first.credential },
          failed: { code: "content_filter", message: upstreamText },
          times: 1,
        });
        before = stack.fake.requests.length;
        res = await stream(fresh.tenant.key);
        text = await res.text();
        if (!text.includes(upstreamText) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50)); // the rule reaches the data plane with the next snapshot
      }
      expect(res.status).toBe(200);
      expect(text).toContain("event: response.failed");
      expect(text).toContain("Ask your administrator");
      expect(text).not.toContain(upstreamText);
      expect(stack.fake.requests.slice(before).map((r) => r.apiKey)).toEqual([fresh.first.credential]);
    } finally {
      await stack.admin.deletePassthroughRule({ id: rule?.id ?? "" });
    }
  });

  it("never shows a client or an operator the upstream credential an upstream echoes back, whatever its form", async () => {
    const { tenant } = await twoAccounts();
    const credential = `acct-key-${Date.now().toString(36)}-not-prefixed`;
    const { account } = await stack.admin.createAccount({
      name: `echoing-${Date.now()}`,
      baseUrl: stack.fake.url,
      credential,
      priority: 1,
      groupIds: [tenant.groupId],
    });
    const echo = `Incorrect API key provided: ${credential}.`;
    stack.fake.script({ match: { apiKey: credential }, status: 400, error: { message: echo }, times: 1 });
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    expect(res.status).toBe(400);
    const passed = await res.text();
    expect(passed).toContain("Incorrect API key provided");
    expect(passed).not.toContain(credential);

    stack.fake.script({ match: { apiKey: credential }, status: 401, error: { message: echo }, times: 1 });
    await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    const { account: after } = await stack.admin.getAccount({ id: account?.id ?? "" });
    expect(after?.statusReason).toContain("Incorrect API key provided");
    expect(after?.statusReason).not.toContain(credential);
    expect(stack.controlPlane.output()).not.toContain(credential);
  });
});
