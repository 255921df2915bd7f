import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { postJson, responsesText, SseBodyReader, sleep, waitForUsage } from "../support/e2e-sse.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

/** GET /readyz: its status, or "refused" when the data plane no longer takes connections. */
async function readiness(url: string): Promise<number | "refused"> {
  try {
    const res = await fetch(`${url}/readyz`);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return "refused";
  }
}

describe("a data plane shutting down gracefully", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_shutdown" });
  });
  afterAll(() => stack?.stop());

  it("on SIGTERM stops being ready at once, finishes the running stream, records it and exits 0", async () => {
    const dp = await stack.startDataPlane({ SWITCHYARD_SHUTDOWN_GRACE_MS: "20000" });
    const tenant = await seedStackTenant(stack);
    const text = "one two three four five six seven eight nine ten ";
    // 17 frames, 200 ms apart: the upstream stream lasts ~3.2 s.
    stack.fake.script({ match: { apiKey: tenant.accounts[0]?.credential }, text, eventDelayMs: 200 });
    const exited = once(dp.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;

    const res = await postJson(`${dp.url}/v1/responses`, tenant.key, {
      model: "gpt-4o",
      input: "count",
      stream: true,
    });
    const reader = new SseBodyReader(res);
    await reader.readUntil((frames) => frames.some((f) => f.event === "response.output_text.delta"));
    expect(await readiness(dp.url)).toBe(200);
    dp.child.kill("SIGTERM");
    let ready = await readiness(dp.url);
    for (let i = 0; i < 20 && ready === 200; i++) {
      await sleep(50);
      ready = await readiness(dp.url);
    }
    const upstreamStreamingWhenUnready = stack.fake.inFlight;
    const frames = await reader.readToEnd();
    const [code, signal] = await exited;

    expect([503, "refused"]).toContain(ready);
    expect(upstreamStreamingWhenUnready).toBe(1);
    expect(res.status).toBe(200);
    expect(frames.map((f) => f.event).at(-1)).toBe("response.completed");
    expect(responsesText(frames)).toBe(text);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const requestId = res.headers.get("x-request-id");
    const records = await waitForUsage(stack.admin, tenant.userId, (r) => r.length >= 1);
    expect(records).toHaveLength(1);
    expect(records[0]?.requestId).toBe(requestId);
    expect(records[0]?.outcome).toBe(Outcome.COMPLETED);
    expect(records[0]?.tokens?.outputTokens).toBeGreaterThan(0);
  });
});
