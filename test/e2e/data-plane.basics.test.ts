import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

describe("the data plane with the official openai SDK", () => {
  let stack: Stack;
  let tenant: Awaited<ReturnType<typeof seedStackTenant>>;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_basics" });
    tenant = await seedStackTenant(stack, {
      accounts: [{ modelMapping: { "my-model": "gpt-4o", "gpt-4o": "" } }],
    });
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => stack?.stop());

  it("serves responses.create with the client's model name and the upstream's usage", async () => {
    stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, text: "Hi there", times: 1 });
    const response = await client.responses.create({ model: "my-model", input: "hello" });
    expect(response.output_text).toBe("Hi there");
    expect(response.model).toBe("my-model");
    expect(response.usage?.input_tokens).toBeGreaterThan(0);
    const seen = stack.fake.requests.at(-1);
    expect(seen?.body).toMatchObject({ model: "gpt-4o" });
    expect(seen?.apiKey).toBe(tenant.accounts[0]?.credential);
  });

  it("streams responses.stream().finalResponse()", async () => {
    const final = await client.responses.stream({ model: "my-model", input: "hello" }).finalResponse();
    expect(final.status).toBe("completed");
    expect(final.model).toBe("my-model");
    expect(final.output_text.length).toBeGreaterThan(0);
  });

  it("serves chat completions, stream and not", async () => {
    const plain = await client.chat.completions.create({
      model: "my-model",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(plain.model).toBe("my-model");
    expect(plain.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const chunks = [];
    const stream = await client.chat.completions.create({
      model: "my-model",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.model === "my-model")).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it("shows the gateway's own cost in Server-Timing and an x-request-id on every answer", async () => {
    const res = await fetch(`${stack.dataPlane.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "my-model", input: "hi" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(res.headers.get("x-upstream-request-id")).toBeTruthy();
    const timing = res.headers.get("server-timing") ?? "";
    for (const stage of ["auth", "admit", "upstream"])
      expect(timing).toMatch(new RegExp(`${stage};dur=\\d+\\.\\d+`));
    await res.text();
  });

  it("exposes request, upstream latency and time-to-first-token metrics", async () => {
    const text = await (await fetch(`${stack.dataPlane.url}/metrics`)).text();
    expect(text).toMatch(/switchyard_requests_total\{route="responses",status="200",model="my-model"\} \d+/);
    expect(text).toMatch(/switchyard_upstream_latency_seconds_count\{route="responses"\} [1-9]/);
    expect(text).toMatch(/switchyard_time_to_first_token_seconds_count\{route="responses"\} [1-9]/);
    expect(text).toMatch(/switchyard_usage_queue_depth \d+/);
  });

  it("lists the group's models", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["gpt-4o", "my-model"]);
  });
});
