import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

describe("a data plane when what it depends on misbehaves", () => {
  let stack: Stack;
  let tenant: Awaited<ReturnType<typeof seedStackTenant>>;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startStack({
      label: "dp_outages",
      dataPlaneEnv: { SWITCHYARD_CONTROL_PLANE_WAIT_MS: "1000" },
    });
    tenant = await seedStackTenant(stack, { balanceUsd: "100" });
    client = new OpenAI({
      apiKey: tenant.key,
      baseURL: `${stack.dataPlane.url}/v1`,
      maxRetries: 0,
      timeout: 30_000,
    });
  });
  afterAll(() => stack?.stop());

  const recordsOf = async () =>
    (await stack.admin.listUsage({ userId: tenant.userId, pageSize: 100 })).records;

  it("bills the next requests normally after an upstream reports absurd token counts (recorded as 0, flagged)", async () => {
    // 5e9 is no uint32: it used to break the lease channel; 3e9 no PostgreSQL integer: it used to stop billing.
    stack.fake.script({ usage: { input_tokens: 12, output_tokens: 5e9 }, times: 1 });
    const absurd = await client.responses.create({ model: "gpt-4o", input: "hi", stream: false });
    stack.fake.script({ usage: { input_tokens: 1_000_000, output_tokens: 3e9 }, times: 1 });
    const stream = await client.responses.create({ model: "gpt-4o", input: "hi", stream: true });
    for await (const _event of stream) {
      // drain
    }
    stack.fake.script({ usage: { input_tokens: 1_000_000, output_tokens: 0 }, times: 1 });
    const normal = await client.responses.create({ model: "gpt-4o", input: "hi" });
    expect([absurd.status, normal.status]).toEqual(["completed", "completed"]);

    await expect.poll(async () => (await recordsOf()).length, { timeout: 15_000 }).toBe(3);
    const records = await recordsOf();
    const flagged = records.filter((r) => r.usageOutOfRange);
    expect(flagged).toHaveLength(2);
    for (const r of flagged) expect(r.tokens?.outputTokens).toBe(0);
    expect(flagged.map((r) => r.tokens?.inputTokens).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([
      12, 1_000_000,
    ]);
    // gpt-4o: 1M input = $2.50 for the normal request and the streamed one, 12 tokens = $0.00003.
    const { user } = await stack.admin.getUser({ id: tenant.userId });
    expect(user?.balanceUsd).toBe("94.99997");
    const metrics = await (await fetch(`${stack.dataPlane.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_usage_out_of_range_total 2$/m);
  });

  it("answers 503 with Retry-After within the control-plane wait when no control plane answers, not after minutes", async () => {
    stack.controlPlane.child.kill("SIGKILL");
    await expect
      .poll(async () => (await fetch(`${stack.dataPlane.url}/readyz`)).status, { timeout: 15_000 })
      .toBe(503);
    const started = Date.now();
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ error: { type: "api_error", message: expect.any(String) } });
    // SWITCHYARD_CONTROL_PLANE_WAIT_MS is 1 s here; the old behaviour waited 180 s per attempt.
    expect(elapsed).toBeLessThan(10_000);
  });
});
