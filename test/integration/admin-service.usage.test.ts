import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageGroupBy } from "../../src/gen/switchyard/v1/admin_pb.js";
import { Endpoint, Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import {
  type AdminHarness,
  expectRpcError,
  HARNESS_START,
  startAdminHarness,
} from "../support/admin-fixtures.js";

const U1 = "11111111-1111-4111-8111-111111111111";
const U2 = "22222222-2222-4222-8222-222222222222";
const K1 = "aaaaaaaa-1111-4111-8111-111111111111";
const K2 = "aaaaaaaa-2222-4222-8222-222222222222";
const K3 = "aaaaaaaa-3333-4333-8333-333333333333";
const G = "bbbbbbbb-1111-4111-8111-111111111111";
const A1 = "cccccccc-1111-4111-8111-111111111111";
const A2 = "cccccccc-2222-4222-8222-222222222222";

/** [request id, user, key, account, model, input, cached, output, reasoning, total cost, created_at (SQL)] */
type Row = [string, string, string, string | null, string, number, number, number, number, string, string];

const T = "2026-03-02T09:00:00";
const ROWS: Row[] = [
  ["req_1", U1, K1, A1, "gpt-4o", 1000, 200, 50, 0, "0.004125", `${T}.000001Z`],
  ["req_2", U1, K1, A2, "gpt-4o", 3000, 0, 150, 0, "0.009", `${T}.000002Z`],
  ["req_3", U1, K2, A1, "o3", 500, 0, 900, 800, "0.0365", `${T}.000500Z`],
  ["req_4", U2, K3, A1, "o3", 100, 100, 10, 10, "0.000000000001", `${T}.000500Z`],
  ["req_5", U2, K3, null, "gpt-4o", 0, 0, 0, 0, "0", `${T}.000999Z`],
  ["req_6", U2, K3, A2, "gpt-4o", 10, 0, 10, 0, "0.0001", "2026-03-01T09:00:00Z"],
  ["req_7", U1, K1, A1, "o3", 7, 0, 7, 7, "1.5", "2026-02-01T00:00:00Z"],
];

describe("AdminService usage", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_usage");
    for (const [rid, user, key, account, model, input, cached, output, reasoning, total, created] of ROWS) {
      await h.sql(
        `insert into usage_records (request_id, lease_id, user_id, key_id, group_id, account_id, requested_model,
          upstream_model, endpoint, stream, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
          input_cost_usd, cached_input_cost_usd, output_cost_usd, rate_multiplier, total_cost_usd, outcome,
          status_code, first_token_ms, duration_ms, failover_count, upstream_request_id, created_at)
         values (?, 'lse', ?, ?, ?, ?, ?, ?, 'chat_completions', true, ?, ?, ?, ?, ?, 0, 0, 1.5, ?, 'truncated',
          200, 120, 900, 1, 'up_1', ?::timestamptz)`,
        [
          rid,
          user,
          key,
          G,
          account,
          model,
          `${model}-mapped`,
          input,
          cached,
          output,
          reasoning,
          total,
          total,
          created,
        ],
      );
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  async function allPages(request: Parameters<AdminHarness["client"]["listUsage"]>[0]): Promise<string[]> {
    const ids: string[] = [];
    let token = "";
    do {
      const page = await h.client.listUsage({ ...request, pageToken: token });
      ids.push(...page.records.map((r) => r.requestId));
      token = page.nextPageToken;
    } while (token !== "");
    return ids;
  }

  it("lists records newest first, paging exactly through rows that share a millisecond or an instant", async () => {
    expect(await allPages({ pageSize: 2 })).toEqual([
      "req_5",
      "req_4",
      "req_3",
      "req_2",
      "req_1",
      "req_6",
      "req_7",
    ]);
    expect(await allPages({ pageSize: 1 })).toEqual([
      "req_5",
      "req_4",
      "req_3",
      "req_2",
      "req_1",
      "req_6",
      "req_7",
    ]);
  });

  it("maps every field of a record", async () => {
    const { records } = await h.client.listUsage({ keyId: K2 });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      requestId: "req_3",
      userId: U1,
      keyId: K2,
      groupId: G,
      accountId: A1,
      requestedModel: "o3",
      upstreamModel: "o3-mapped",
      endpoint: Endpoint.CHAT_COMPLETIONS,
      stream: true,
      tokens: { inputTokens: 500, cachedInputTokens: 0, outputTokens: 900, reasoningTokens: 800 },
      inputCostUsd: "0.0365",
      cachedInputCostUsd: "0",
      rateMultiplier: "1.5",
      totalCostUsd: "0.0365",
      outcome: Outcome.TRUNCATED,
      statusCode: 200,
      firstTokenMs: 120,
      durationMs: 900,
      failoverCount: 1,
      upstreamRequestId: "up_1",
    });
    const none = await h.client.listUsage({ userId: U2, pageSize: 500 });
    expect(none.records.find((r) => r.requestId === "req_5")?.accountId).toBe("");
  });

  it("filters by user, key, account and time range", async () => {
    expect(await allPages({ userId: U2 })).toEqual(["req_5", "req_4", "req_6"]);
    expect(await allPages({ accountId: A2 })).toEqual(["req_2", "req_6"]);
    expect(
      await allPages({
        startTime: timestampFromMs(Date.parse("2026-03-01T00:00:00Z")),
        endTime: timestampFromMs(Date.parse(`${T}.000Z`) + 1),
        pageSize: 2,
      }),
    ).toEqual(["req_5", "req_4", "req_3", "req_2", "req_1", "req_6"]);
    expect(await allPages({ endTime: timestampFromMs(Date.parse(`${T}.000Z`)) })).toEqual(["req_6", "req_7"]);
  });

  it("refuses malformed filters naming the field", async () => {
    await expectRpcError(h.client.listUsage({ keyId: "k1" }), Code.InvalidArgument, "key_id");
    await expectRpcError(h.client.listUsage({ accountId: "a" }), Code.InvalidArgument, "account_id");
    await expectRpcError(
      h.client.listUsage({
        startTime: timestampFromMs(HARNESS_START),
        endTime: timestampFromMs(HARNESS_START),
      }),
      Code.InvalidArgument,
      "end_time",
    );
    await expectRpcError(h.client.listUsage({ pageToken: "e30" }), Code.InvalidArgument, "page_token");
    await expectRpcError(
      h.client.listUsage({ startTime: { seconds: -200_000_000_000n, nanos: 0 } }),
      Code.InvalidArgument,
      "start_time",
    );
    await expectRpcError(
      h.client.summarizeUsage({ groupBy: 9 as UsageGroupBy }),
      Code.InvalidArgument,
      "group_by",
    );
    await expectRpcError(h.client.summarizeUsage({ userId: "u" }), Code.InvalidArgument, "user_id");
  });

  it("summarizes by model (the default) with exact sums, by cost descending", async () => {
    const { rows } = await h.client.summarizeUsage({});
    expect(rows).toEqual([
      expect.objectContaining({
        key: "o3",
        requests: 3n,
        inputTokens: 607n,
        cachedInputTokens: 100n,
        outputTokens: 917n,
        reasoningTokens: 817n,
        totalCostUsd: "1.536500000001",
      }),
      expect.objectContaining({
        key: "gpt-4o",
        requests: 4n,
        inputTokens: 4010n,
        cachedInputTokens: 200n,
        outputTokens: 210n,
        reasoningTokens: 0n,
        totalCostUsd: "0.013225",
      }),
    ]);
  });

  it("summarizes by account, key and user over a time range and for one user", async () => {
    const since = timestampFromMs(Date.parse("2026-03-01T00:00:00Z"));
    const byAccount = await h.client.summarizeUsage({ groupBy: UsageGroupBy.ACCOUNT, startTime: since });
    expect(byAccount.rows.map((r) => [r.key, r.requests, r.totalCostUsd])).toEqual([
      [A1, 3n, "0.040625000001"],
      [A2, 2n, "0.0091"],
      ["", 1n, "0"],
    ]);
    const byKey = await h.client.summarizeUsage({ groupBy: UsageGroupBy.KEY, userId: U1 });
    expect(byKey.rows.map((r) => [r.key, r.requests, r.totalCostUsd])).toEqual([
      [K1, 3n, "1.513125"],
      [K2, 1n, "0.0365"],
    ]);
    const byUser = await h.client.summarizeUsage({
      groupBy: UsageGroupBy.USER,
      endTime: timestampFromMs(Date.parse("2026-03-02T00:00:00Z")),
    });
    expect(byUser.rows.map((r) => [r.key, r.requests, r.totalCostUsd])).toEqual([
      [U1, 1n, "1.5"],
      [U2, 1n, "0.0001"],
    ]);
    const empty = await h.client.summarizeUsage({ userId: "33333333-3333-4333-8333-333333333333" });
    expect(empty.rows).toEqual([]);
  });

  it("lists one model's records (the web UI's model filter)", async () => {
    expect(await allPages({ model: "o3" })).toEqual(["req_4", "req_3", "req_7"]);
    expect(await allPages({ model: "o3", userId: U2 })).toEqual(["req_4"]);
  });

  it("sums usage per time bucket over a range, leaving out buckets without records", async () => {
    const hourly = await h.client.getUsageSeries({
      startTime: timestampFromMs(Date.parse("2026-03-02T08:00:00Z")),
      endTime: timestampFromMs(Date.parse("2026-03-02T10:00:00Z")),
      bucketSeconds: 3600,
    });
    expect(hourly.points).toHaveLength(1);
    expect(hourly.points[0]).toMatchObject({
      bucketStartTime: timestampFromMs(Date.parse("2026-03-02T09:00:00Z")),
      requests: 5n,
      inputTokens: 4600n,
      cachedInputTokens: 300n,
      outputTokens: 1110n,
      totalCostUsd: "0.049625000001",
      failedRequests: 5n,
    });
    const daily = await h.client.getUsageSeries({
      startTime: timestampFromMs(Date.parse("2026-03-01T00:00:00Z")),
      endTime: timestampFromMs(Date.parse("2026-03-03T00:00:00Z")),
      bucketSeconds: 86_400,
      model: "gpt-4o",
    });
    expect(daily.points.map((p) => [Number(p.bucketStartTime?.seconds) * 1000, p.requests])).toEqual([
      [Date.parse("2026-03-01T00:00:00Z"), 1n],
      [Date.parse("2026-03-02T00:00:00Z"), 3n],
    ]);
  });

  it("refuses a series without both ends, with buckets under a minute, or with more than 2000 buckets", async () => {
    const start = timestampFromMs(Date.parse("2026-03-01T00:00:00Z"));
    const end = timestampFromMs(Date.parse("2026-03-02T00:00:00Z"));
    await expectRpcError(
      h.client.getUsageSeries({ endTime: end, bucketSeconds: 60 }),
      Code.InvalidArgument,
      "start_time",
    );
    await expectRpcError(
      h.client.getUsageSeries({ startTime: start, bucketSeconds: 60 }),
      Code.InvalidArgument,
      "end_time",
    );
    await expectRpcError(
      h.client.getUsageSeries({ startTime: start, endTime: end, bucketSeconds: 30 }),
      Code.InvalidArgument,
      "bucket_seconds",
    );
    await expectRpcError(
      h.client.getUsageSeries({
        startTime: start,
        endTime: timestampFromMs(Date.parse("2026-04-01T00:00:00Z")),
        bucketSeconds: 60,
      }),
      Code.InvalidArgument,
      "bucket_seconds",
    );
  });
});
