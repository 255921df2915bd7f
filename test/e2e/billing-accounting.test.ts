import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageGroupBy, type UsageRecord } from "../../src/gen/switchyard/v1/admin_pb.js";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { parseUsd } from "../../src/shared/money.js";
import { postJson, SseBodyReader, sleep } from "../support/e2e-sse.js";
import type { ScriptedUsage } from "../support/fake-openai/types.js";
import { seedStackTenant, startStack } from "../support/stack.js";

/** Tokens as the fake upstream reports them, in its `usage` naming (cached ⊆ input, reasoning ⊆ output). */
type Tokens = Required<ScriptedUsage>;
const tokens = (input: number, cached: number, output: number, reasoning: number): Tokens => {
  return { input_tokens: input, cached_tokens: cached, output_tokens: output, reasoning_tokens: reasoning };
};
const ZERO = tokens(0, 0, 0, 0);

/**
 * Prices this run sets (USD per 1M tokens: input, cached input, output), unlike the seeded list prices so the
 * operator's table is what bills. At most 6 decimals: in micro-USD per 1M tokens, a token costs exactly that many
 * pico-USD, so the expected cost is integer arithmetic with no rounding at all.
 */
const PRICES: Record<string, readonly [string, string, string]> = {
  "gpt-5": ["1.234567", "0.123457", "9.876543"],
  "gpt-4.1-mini": ["0.400001", "0.100003", "1.600007"],
  "o4-mini": ["1.100011", "0.275013", "4.400017"],
  "gpt-4o": ["2.500019", "1.250023", "10.000029"],
};
const BASES = Object.keys(PRICES);
/** Both accounts map this alias to a dated upstream model: billed as the upstream model, date suffix stripped. */
const MAPPED = {
  model: "house-mini",
  upstreamModel: "gpt-4.1-mini-2025-04-14",
  priceKey: "gpt-4.1-mini",
  usage: tokens(321, 64, 45, 0),
};

/** One kind of request in the mix; request i is of kind i mod 14. */
interface Kind {
  api: "responses" | "chat";
  stream: boolean;
  fault?: "failover" | "abort" | "truncate" | "refuse";
  model?: "mapped" | "unpriced";
}
const KINDS: readonly Kind[] = [
  { api: "responses", stream: false },
  { api: "responses", stream: true },
  { api: "chat", stream: false },
  { api: "chat", stream: true },
  { api: "responses", stream: true, fault: "failover" },
  { api: "responses", stream: true, fault: "abort" },
  { api: "chat", stream: true, fault: "truncate" },
  { api: "chat", stream: true, model: "mapped" },
  { api: "responses", stream: false, fault: "refuse" },
  { api: "chat", stream: false, fault: "failover" },
  { api: "chat", stream: true, fault: "abort" },
  { api: "responses", stream: true, fault: "truncate" },
  { api: "chat", stream: false, model: "unpriced" },
  { api: "responses", stream: false, model: "mapped" },
];
const REQUESTS = 14 * 18;
const CONCURRENCY = 8;

/**
 * Request i of the run: its kind, the model it asks for and the upstream (billing) model, the price key, what the
 * fake reports (`usage`) and the outcome the ledger must show. Completed and client-aborted (drained) requests
 * produce usage; truncated streams (no terminal event) and refused requests never do.
 */
function plan(i: number) {
  const kind = KINDS[i % KINDS.length] ?? { api: "responses", stream: false };
  const base = BASES[i % BASES.length] ?? "gpt-4o";
  // A unique dated model per request: its own fake rule, priced through the date-suffix lookup.
  const dated = `${kind.model === "unpriced" ? "house-unpriced" : base}-2025${String(i).padStart(4, "0")}`;
  const input = 40 + ((i * 37) % 900);
  const output = 3 + ((i * 13) % 300);
  const usage = tokens(input, Math.floor((input * (i % 3)) / 4), output, base === "gpt-4o" ? 0 : output >> 2);
  const producesUsage = kind.fault !== "truncate" && kind.fault !== "refuse";
  const common = { i, kind, producesUsage, outcome: kind.fault ? OUTCOMES[kind.fault] : Outcome.COMPLETED };
  if (kind.model === "mapped") return { ...common, ...MAPPED };
  const priceKey = kind.model === "unpriced" ? null : base;
  return { ...common, model: dated, upstreamModel: dated, priceKey, usage };
}

type Planned = ReturnType<typeof plan>;

/** A failover still completes; a refused request is the upstream's failure, passed through. */
const OUTCOMES: Record<NonNullable<Kind["fault"]>, Outcome> = {
  failover: Outcome.COMPLETED,
  abort: Outcome.CLIENT_ABORTED,
  truncate: Outcome.TRUNCATED,
  refuse: Outcome.FAILED_UPSTREAM,
};

/** Content deltas a client has read so far, in either API's stream. */
function deltasRead(reader: SseBodyReader): number {
  return reader.frames.filter(
    (f) => f.event === "response.output_text.delta" || /"delta":\{"content":"[^"]/.test(f.data ?? ""),
  ).length;
}

/** A record's total cost in pico-USD. */
const cost = (r: UsageRecord): bigint => parseUsd(r.totalCostUsd, 12);
const micro = (usd: string): bigint => {
  const [whole = "0", fraction = ""] = usd.split(".");
  return BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, "0"));
};

/** The price table applied, in pico-USD: uncached input, cached input and output at their prices (multiplier 1). */
function expectedCost(p: Planned): bigint {
  const price = p.priceKey === null ? undefined : PRICES[p.priceKey];
  if (!price || !p.producesUsage) return 0n;
  const [input, cached, output] = price.map(micro) as [bigint, bigint, bigint];
  const t = p.usage;
  const uncached = BigInt(t.input_tokens - t.cached_tokens);
  return uncached * input + BigInt(t.cached_tokens) * cached + BigInt(t.output_tokens) * output;
}

/** A record's tokens in the fake's naming. */
const tokensOf = ({ tokens: t }: UsageRecord): Tokens =>
  tokens(t?.inputTokens ?? 0, t?.cachedInputTokens ?? 0, t?.outputTokens ?? 0, t?.reasoningTokens ?? 0);

/** Σ per token kind. */
const sum = (list: Tokens[]): Tokens =>
  Object.fromEntries(
    (Object.keys(ZERO) as (keyof Tokens)[]).map((k) => [k, list.reduce((a, t) => a + t[k], 0)]),
  ) as Tokens;

/** Runs `work` over `items`, `width` at a time. */
async function inPool<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    for (let k = next++; k < items.length; k = next++) results[k] = await work(items[k] as T);
  };
  await Promise.all(Array.from({ length: width }, lane));
  return results;
}

describe("billing accounting across a mixed run", () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let tenant: Awaited<ReturnType<typeof seedStackTenant>>;
  let first: { id: string; credential: string };
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startStack({ label: "billing_accounting" });
    const modelMapping = { "*": "", [MAPPED.model]: MAPPED.upstreamModel };
    tenant = await seedStackTenant(stack, {
      userConcurrency: 16,
      balanceUsd: "100",
      accounts: [10, 50].map((priority) => ({ priority, concurrency: 32, modelMapping })),
    });
    first = tenant.accounts[0] ?? { id: "", credential: "" };
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    for (const [model, [input, cached, output]] of Object.entries(PRICES)) {
      await stack.admin.setModelPrice({
        price: { model, inputUsdPerMtok: input, cachedInputUsdPerMtok: cached, outputUsdPerMtok: output },
      });
    }
  });
  afterAll(() => stack?.stop());

  /** Scripts the fake for one request; the unique model keeps every rule to its own request. */
  function script(p: Planned): void {
    if (p.kind.model === "mapped") return;
    const usage = p.usage;
    const match = { model: p.upstreamModel };
    const fault = p.kind.fault;
    if (fault === "failover")
      stack.fake.script({ match: { ...match, apiKey: first.credential }, status: 500, times: 1 });
    if (fault === "refuse")
      stack.fake.script({ match, status: 400, error: { message: "Invalid value for 'input'." } });
    else if (fault === "truncate")
      stack.fake.script({ match, usage, cutAfterEvents: p.kind.api === "chat" ? 3 : 6 });
    else if (fault === "abort") stack.fake.script({ match, usage, events: 12, eventDelayMs: 40 });
    else stack.fake.script({ match, usage });
  }

  /** Sends one request as its kind says; returns the x-request-id the client got. */
  async function send(p: Planned): Promise<string> {
    const input = `request ${p.i}`;
    if (p.kind.fault === "abort") {
      const chat = p.kind.api === "chat";
      const url = `${stack.dataPlane.url}/v1/${chat ? "chat/completions" : "responses"}`;
      const body = chat ? { messages: [{ role: "user", content: input }] } : { input };
      const abort = new AbortController();
      const res = await postJson(url, tenant.key, { model: p.model, stream: true, ...body }, abort.signal);
      const reader = new SseBodyReader(res);
      const midStream = await reader.readUntil(() => deltasRead(reader) >= 2);
      abort.abort();
      expect(midStream, `request ${p.i} ended before the client left`).toBe(true);
      return res.headers.get("x-request-id") ?? "";
    }
    const messages = [{ role: "user" as const, content: input }];
    // The client asking for the usage chunk itself changes nothing in billing.
    const usageChunk = p.kind.model === "mapped" ? { stream_options: { include_usage: true } } : {};
    let answer: { data: unknown; request_id: string | null };
    try {
      if (p.kind.api === "responses") {
        answer = p.kind.stream
          ? await client.responses.create({ model: p.model, input, stream: true }).withResponse()
          : await client.responses.create({ model: p.model, input }).withResponse();
      } else {
        answer = p.kind.stream
          ? await client.chat.completions
              .create({ model: p.model, messages, stream: true, ...usageChunk })
              .withResponse()
          : await client.chat.completions.create({ model: p.model, messages }).withResponse();
      }
    } catch (err) {
      if (p.kind.fault === "refuse" && err instanceof APIError && err.status === 400)
        return err.requestID ?? "";
      throw err;
    }
    let cut: unknown = null;
    if (p.kind.stream) {
      try {
        for await (const _event of answer.data as AsyncIterable<unknown>) {
          // drain
        }
      } catch (err) {
        cut = err;
      }
    }
    expect(cut instanceof APIError, `request ${p.i}: stream cut`).toBe(p.kind.fault === "truncate");
    return answer.request_id ?? "";
  }

  async function allUsage(): Promise<UsageRecord[]> {
    const records: UsageRecord[] = [];
    let pageToken = "";
    do {
      const page = await stack.admin.listUsage({ userId: tenant.userId, pageSize: 100, pageToken });
      records.push(...page.records);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return records;
  }

  it("records each admitted request once and bills exactly the price table applied to what the upstream reported", async () => {
    const planned = Array.from({ length: REQUESTS }, (_, i) => plan(i));
    stack.fake.script({ match: { model: MAPPED.upstreamModel }, usage: MAPPED.usage });
    for (const p of planned) script(p);
    const { user: before } = await stack.admin.getUser({ id: tenant.userId });

    const ids = await inPool(planned, CONCURRENCY, send);
    const byId = new Map(planned.map((p, k) => [ids[k] ?? "", p]));
    const deadline = Date.now() + 20_000;
    while ((await allUsage()).length < REQUESTS && Date.now() < deadline) await sleep(250);
    await sleep(500); // nothing more may arrive
    const records = await allUsage();
    const { user: after } = await stack.admin.getUser({ id: tenant.userId });
    const { apiKey } = await stack.admin.getApiKey({ id: tenant.keyId });
    const { rows } = await stack.admin.summarizeUsage({ groupBy: UsageGroupBy.USER, userId: tenant.userId });

    // Exactly one record per admitted request, under the x-request-id its client saw.
    expect(byId.size).toBe(REQUESTS);
    expect(records.map((r) => r.requestId).sort()).toEqual([...byId.keys()].sort());
    // Per request: outcome, billing model, tokens (none for truncated and refused), cost.
    const planOf = (r: UsageRecord) => byId.get(r.requestId) as Planned;
    expect(records.map((r) => [planOf(r).i, r.outcome, r.upstreamModel, tokensOf(r), cost(r)])).toEqual(
      records
        .map(planOf)
        .map((p) => [p.i, p.outcome, p.upstreamModel, p.producesUsage ? p.usage : ZERO, expectedCost(p)]),
    );

    // Σ tokens per kind = Σ of what the fake reported for the requests that produced usage.
    const producing = planned.filter((p) => p.producesUsage);
    const reported = sum(producing.map((p) => p.usage));
    expect(sum(records.map(tokensOf))).toEqual(reported);
    // Truncated streams (no terminal event) and refused requests produce none.
    const silent = records.filter((r) => !planOf(r).producesUsage);
    expect(silent).toHaveLength(REQUESTS - producing.length);
    expect(sum(silent.map(tokensOf))).toEqual(ZERO);

    // Σ cost = the price table applied (exact: no tolerance needed, let alone 1e-6 USD); balance and quota moved by it.
    const total = records.reduce((a, r) => a + cost(r), 0n);
    expect(total).toBe(planned.reduce((a, p) => a + expectedCost(p), 0n));
    expect(total).toBeGreaterThan(0n);
    expect(parseUsd(before?.balanceUsd ?? "", 12) - parseUsd(after?.balanceUsd ?? "", 12)).toBe(total);
    expect(parseUsd(apiKey?.quotaUsedUsd ?? "", 12)).toBe(total);
    const summary = rows.map((r) => [
      parseUsd(r.totalCostUsd, 12),
      Number(r.inputTokens),
      Number(r.outputTokens),
    ]);
    expect(summary).toEqual([[total, reported.input_tokens, reported.output_tokens]]);

    // Time to first token is recorded for JSON answers too (when the body went out), never past the request's end.
    const answered = records.filter((r) => !planOf(r).kind.stream && r.outcome === Outcome.COMPLETED);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.some((r) => r.firstTokenMs > 0)).toBe(true);
    expect(records.every((r) => r.firstTokenMs <= r.durationMs + 1)).toBe(true); // two clocks, 1 ms apart at most

    // Failovers: each 500 from the first account moved its request once; at least the first one did.
    const failovers = records.filter((r) => byId.get(r.requestId)?.kind.fault === "failover");
    expect(records.filter((r) => !failovers.includes(r)).every((r) => r.failoverCount === 0)).toBe(true);
    const atFirst = stack.fake.requests.filter((q) => q.apiKey === first.credential).map((q) => q.body);
    const triedFirst = (r: UsageRecord) =>
      atFirst.filter((b) => (b as { model: string }).model === r.upstreamModel);
    expect(failovers.map((r) => r.failoverCount)).toEqual(failovers.map((r) => triedFirst(r).length));
    expect(failovers.reduce((a, r) => a + r.failoverCount, 0)).toBeGreaterThan(0);
  });
});
