import { timestampMs } from "@bufbuild/protobuf/wkt";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

const MODEL = "gpt-4o";
const THREE_EQUAL_ACCOUNTS = [{}, {}, {}].map(() => ({ priority: 50, concurrency: 10 }));

describe("sticky sessions across three equal accounts", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_sticky" });
  });
  afterAll(() => stack?.stop());

  /** A fresh tenant (user, group, three accounts) and an SDK client for its key. */
  async function tenantWithClient(): Promise<{ tenant: Tenant; client: OpenAI }> {
    const tenant = await seedStackTenant(stack, { accounts: THREE_EQUAL_ACCOUNTS });
    const client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    return { tenant, client };
  }

  /** Sends one request and returns the upstream credential (= account) that served it. */
  async function servedBy(
    client: OpenAI,
    body: OpenAI.Responses.ResponseCreateParamsNonStreaming,
    headers: Record<string, string> = {},
  ): Promise<string> {
    const before = stack.fake.requests.length;
    const response = await client.responses.create(body, { headers });
    expect(response.status).toBe("completed");
    const seen = stack.fake.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    return seen.at(-1)?.apiKey ?? "";
  }

  it("keeps requests with the same session_id header on one account, while other sessions spread", async () => {
    const { tenant, client } = await tenantWithClient();
    const credentials = tenant.accounts.map((a) => a.credential);
    const sticky: string[] = [];
    for (let turn = 0; turn < 8; turn++) {
      // A different input every turn: only the header can tie the requests together.
      sticky.push(await servedBy(client, { model: MODEL, input: `turn ${turn}` }, { session_id: "abc" }));
    }
    expect(credentials).toContain(sticky[0]);
    expect(new Set(sticky)).toEqual(new Set([sticky[0]]));
    expect(stack.fake.requests.at(-1)?.headers.session_id).toBe("abc");

    // Without a shared session, least-recently-used selection spreads the same traffic over the accounts.
    const spread: string[] = [];
    for (let turn = 0; turn < 8; turn++) {
      spread.push(
        await servedBy(client, { model: MODEL, input: `other ${turn}` }, { session_id: `s-${turn}` }),
      );
    }
    expect(new Set(spread).size).toBeGreaterThan(1);
  });

  it("keeps requests with the same prompt_cache_key on one account", async () => {
    const { tenant, client } = await tenantWithClient();
    const served: string[] = [];
    for (let turn = 0; turn < 8; turn++) {
      served.push(
        await servedBy(client, { model: MODEL, input: `question ${turn}`, prompt_cache_key: "cache-key-1" }),
      );
    }
    expect(tenant.accounts.map((a) => a.credential)).toContain(served[0]);
    expect(new Set(served)).toEqual(new Set([served[0]]));
    const upstreamBody = (stack.fake.requests.at(-1)?.body ?? {}) as { prompt_cache_key?: string };
    expect(upstreamBody.prompt_cache_key).toBe("cache-key-1");
  });

  it("moves a session off an account that starts cooling down, and the binding follows it", async () => {
    const { tenant, client } = await tenantWithClient();
    const session = { session_id: "cooling-session" };
    const first = await servedBy(client, { model: MODEL, input: "start" }, session);
    const bound = tenant.accounts.find((a) => a.credential === first);
    expect(bound).toBeDefined();

    stack.fake.script({
      match: { apiKey: first },
      status: 429,
      headers: { "retry-after": "60" },
      times: 1,
    });
    const before = stack.fake.requests.length;
    const limitedAt = Date.now();
    const moved = await servedBy(client, { model: MODEL, input: "next" }, session);
    const tried = stack.fake.requests.slice(before).map((r) => r.apiKey);
    expect(tried).toEqual([first, moved]);
    expect(moved).not.toBe(first);

    const { account } = await stack.admin.getAccount({ id: bound?.id ?? "" });
    expect(account?.rateLimitedUntil).toBeDefined();
    const until = account?.rateLimitedUntil ? timestampMs(account.rateLimitedUntil) : 0;
    expect(until - limitedAt).toBeGreaterThan(55_000);
    expect(until - limitedAt).toBeLessThan(65_000);

    const after: string[] = [];
    for (let turn = 0; turn < 4; turn++) {
      after.push(await servedBy(client, { model: MODEL, input: `after ${turn}` }, session));
    }
    expect(after).toEqual([moved, moved, moved, moved]);

    const movedAccount = tenant.accounts.find((a) => a.credential === moved);
    const { sessions } = await stack.admin.listStickySessions({ userId: tenant.userId });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.accountId).toBe(movedAccount?.id);
    expect(sessions[0]?.groupId).toBe(tenant.groupId);
  });

  it("serves a session again from its only account once that account's short cooldown is over", async () => {
    const tenant = await seedStackTenant(stack, { accounts: [{ priority: 50, concurrency: 10 }] });
    const client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    const session = { session_id: "short-cooldown" };
    const only = tenant.accounts[0]?.credential ?? "";
    expect(await servedBy(client, { model: MODEL, input: "one" }, session)).toBe(only);

    stack.fake.script({ match: { apiKey: only }, status: 429, headers: { "retry-after": "1" }, times: 1 });
    const limited = await client.responses.create({ model: MODEL, input: "two" }, { headers: session }).then(
      () => ({ status: 200 }),
      (err: unknown) => ({ status: err instanceof OpenAI.APIError ? err.status : 0 }),
    );
    expect(limited.status).toBe(429);
    const { account } = await stack.admin.getAccount({ id: tenant.accounts[0]?.id ?? "" });
    const until = account?.rateLimitedUntil ? timestampMs(account.rateLimitedUntil) : 0;
    expect(until).toBeGreaterThan(Date.now() - 1_000);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now()) + 200));
    expect(await servedBy(client, { model: MODEL, input: "three" }, session)).toBe(only);
  });
});
