import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageGroupBy } from "../../src/gen/switchyard/v1/admin_pb.js";
import { runCli } from "../support/cli.js";
import { bearer, http } from "../support/e2e-http.js";
import { waitForUsage } from "../support/e2e-sse.js";
import { type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.js";
import { seedStackTenant, startStack } from "../support/stack.js";

/**
 * What an operator sees of a running gateway: both planes' /metrics, the data plane's access log, and one
 * OpenTelemetry trace per request across both planes (exported over OTLP/HTTP to a receiver in this process).
 */
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let stack: Awaited<ReturnType<typeof startStack>>;
let tenant: Awaited<ReturnType<typeof seedStackTenant>>;
let controlPlaneUrl = "";
let spare: Awaited<ReturnType<typeof stack.startDataPlane>> | undefined;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50" };
  stack = await startStack({
    label: "observability",
    controlPlaneEnv: otel,
    dataPlaneEnv: { ...otel, SWITCHYARD_LOG_LEVEL: "info" },
  });
  tenant = await seedStackTenant(stack);
  controlPlaneUrl = stack.controlPlaneUrl;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const respond = (model: string, headers: Record<string, string> = {}) =>
  http(stack.dataPlane.url, "/v1/responses", {
    headers: { ...bearer(tenant.key), ...headers },
    body: { model, input: "hello" },
  });

async function metricsOf(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The value of the series `name{labels…}` (labels given as a substring, in exposition order). */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("Prometheus metrics on both planes", () => {
  it("export the process and runtime metrics, and every counter ends in _total", async () => {
    for (const url of [stack.dataPlane.url, controlPlaneUrl]) {
      const text = await metricsOf(url);
      expect(text).toContain("# TYPE process_cpu_seconds_total counter");
      expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
      const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]);
      expect(counters.length).toBeGreaterThan(3);
      expect(counters.filter((n) => !n?.endsWith("_total"))).toEqual([]);
    }
  });

  it("count admin calls under the grpc-ecosystem names", async () => {
    const text = await metricsOf(controlPlaneUrl);
    expect(
      sample(
        text,
        "grpc_server_handled_total",
        'grpc_service="switchyard.v1.AdminService",grpc_method="CreateUser",grpc_code="OK"',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/grpc_server_handling_seconds_bucket\{[^}]*grpc_method="CreateUser"/);
    expect(text).toContain('grpc_server_started_total{grpc_type="bidi_stream"');
  });

  it("label a model the snapshot does not name as other: asking for unknown models adds no series", async () => {
    expect((await respond("no-such-model-1")).status).toBe(200);
    const before = await metricsOf(stack.dataPlane.url);
    expect((await respond("no-such-model-2")).status).toBe(200);
    const after = await metricsOf(stack.dataPlane.url);
    const series = (text: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith("switchyard_"))
        .map((l) => l.slice(0, l.lastIndexOf(" ")));
    expect(series(after)).toEqual(series(before));
    expect(after).not.toContain("no-such-model");
    expect(sample(after, "switchyard_requests_total", 'model="other"')).toBe(2);
  });

  it("report the prompt-cache hit ratio per group and account, and per key in usage summary", async () => {
    const t = await seedStackTenant(stack);
    const credential = t.accounts[0]?.credential ?? "";
    stack.fake.script({
      match: { apiKey: credential },
      usage: { input_tokens: 1000, cached_tokens: 250, output_tokens: 10 },
      times: 1,
    });
    stack.fake.script({
      match: { apiKey: credential },
      usage: { input_tokens: 1000, cached_tokens: 750, output_tokens: 10 },
      times: 1,
    });
    for (let i = 0; i < 2; i++) {
      const res = await http(stack.dataPlane.url, "/v1/responses", {
        headers: bearer(t.key),
        body: { model: "gpt-5", input: "hello" },
      });
      expect(res.status).toBe(200);
    }
    const account = t.accounts[0]?.id ?? "";
    const labels = `group="${t.groupId}",account="${account}"`;
    const text = await metricsOf(stack.dataPlane.url);
    expect(sample(text, "switchyard_prompt_cache_hit_ratio", labels)).toBe(0.5);
    expect(sample(text, "switchyard_tokens_total", `${labels},kind="cached_input"`)).toBe(1000);
    expect(sample(text, "switchyard_upstream_responses_total", `${labels},status="200"`)).toBe(2);

    await waitForUsage(stack.admin, t.userId, (records) => records.length >= 2);
    const { rows } = await stack.admin.summarizeUsage({ userId: t.userId, groupBy: UsageGroupBy.KEY });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.cacheHitRatio).toBe(0.5);
    const cli = await runCli(["admin", "usage", "summary", "--user", t.userId, "--group-by", "key"], {
      SWITCHYARD_CONTROL_PLANE_URL: controlPlaneUrl,
      SWITCHYARD_ADMIN_TOKEN: stack.adminToken,
    });
    expect(cli.stdout).toMatch(/CACHE HIT/);
    expect(cli.stdout).toMatch(/50\.0%/);
    const cp = await metricsOf(controlPlaneUrl);
    expect(sample(cp, "switchyard_usage_cost_usd_total", labels)).toBeGreaterThan(0);
  });
});

describe("the access log", () => {
  it("writes one line per request with its fields, echoing a well-formed client X-Request-Id", async () => {
    const clientId = `client-${randomBytes(6).toString("hex")}`;
    const res = await respond("gpt-5", { "x-request-id": clientId });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-request-id") ?? "";
    expect(requestId).not.toBe(clientId);
    expect(res.headers.get("x-client-request-id")).toBe(clientId);
    const lines = await until(() => {
      const found = accessLines().filter((l) => l.requestId === requestId);
      return found.length > 0 ? found : undefined;
    }, "the access-log line");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      msg: "request finished",
      requestId,
      clientRequestId: clientId,
      keyId: tenant.keyId,
      userId: tenant.userId,
      groupId: tenant.groupId,
      accountId: tenant.accounts[0]?.id,
      route: "responses",
      model: "gpt-5",
      stream: false,
      status: 200,
      failovers: 0,
    });
    for (const field of [
      "inputTokens",
      "outputTokens",
      "upstreamLatencyMs",
      "gatewayOverheadMs",
      "durationMs",
    ])
      expect(typeof lines[0]?.[field]).toBe("number");
    expect(JSON.stringify(lines[0])).not.toContain(tenant.key);
    expect(JSON.stringify(lines[0])).not.toContain("hello");

    const odd = await respond("gpt-5", { "x-request-id": 'has spaces and "quotes"' });
    expect(odd.headers.get("x-client-request-id")).toBeNull();
  });
});

describe("OpenTelemetry traces", () => {
  it("make one trace per request across both planes, under the client's traceparent, sent on upstream", async () => {
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    const res = await respond("gpt-5", { traceparent: `00-${traceId}-${clientSpanId}-01` });
    expect(res.status).toBe(200);
    const spans = await until(() => {
      const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
      const services = new Set(inTrace.map((s) => s.service));
      const settled = inTrace.some((s) => s.name.endsWith("/release"));
      return services.size === 2 && settled && inTrace.some((s) => s.name === "POST /v1/responses")
        ? inTrace
        : undefined;
    }, "spans of both planes");
    const named = (name: string, service: string): ReceivedSpan => {
      const span = spans.find((s) => s.name === name && s.service === service);
      if (!span) throw new Error(`no span ${name} of ${service}: ${spans.map((s) => s.name).join(", ")}`);
      return span;
    };
    const root = named("POST /v1/responses", "switchyard-data-plane");
    expect(root.parentSpanId).toBe(clientSpanId);
    expect(root.attributes).toMatchObject({
      "gen_ai.request.model": "gpt-5",
      "http.response.status_code": 200,
      "switchyard.request_id": res.headers.get("x-request-id"),
    });
    expect(root.attributes["gen_ai.usage.input_tokens"]).toEqual(expect.any(Number));
    const admit = named("admit", "switchyard-data-plane");
    const attempt = named("chat gpt-5", "switchyard-data-plane");
    for (const child of [
      admit,
      attempt,
      named("relay", "switchyard-data-plane"),
      named("settle", "switchyard-data-plane"),
    ])
      expect(child.parentSpanId).toBe(root.spanId);
    const served = named("switchyard.v1.GatewayService/admit", "switchyard-control-plane");
    expect(served.parentSpanId).toBe(admit.spanId);
    const storeSpans = spans.filter((s) => s.parentSpanId === served.spanId);
    expect(storeSpans.map((s) => s.attributes["db.system.name"])).toEqual(
      expect.arrayContaining(["redis", "postgresql"]),
    );
    const upstream = stack.fake.requests.find((r) => r.headers.traceparent?.includes(traceId));
    expect(upstream?.headers.traceparent).toBe(`00-${traceId}-${attempt.spanId}-01`);

    // A request without a traceparent starts a trace of its own.
    const plain = await respond("gpt-5");
    const plainRoot = await until(
      () =>
        receiver.spans.find(
          (s) => s.attributes["switchyard.request_id"] === plain.headers.get("x-request-id"),
        ),
      "the second request's span",
    );
    expect(plainRoot.traceId).not.toBe(traceId);
    expect(plainRoot.parentSpanId).toBe("");
  });
});

describe("a data plane with a metrics listener of its own", () => {
  it("serves /metrics there and not on the public port", async () => {
    spare = await stack.startDataPlane({
      SWITCHYARD_LOG_LEVEL: "info",
      SWITCHYARD_DATA_PLANE_METRICS_LISTEN: "127.0.0.1:0",
    });
    const metricsUrl = await until(
      () => spare?.output().match(/"metricsUrl":"(http:\/\/[^"]+)"/)?.[1],
      "the metrics listener's address",
    );
    expect((await fetch(`${spare.url}/metrics`)).status).toBe(404);
    expect(await metricsOf(metricsUrl)).toContain("switchyard_requests_in_flight");
  });
});

describe("logs of expected conditions", () => {
  it("say once, without a stack, that the control plane went away; a normal shutdown logs no rpc failures", async () => {
    const dp = spare;
    if (!dp) throw new Error("the spare data plane did not start");
    await stack.dataPlane.stop();
    expect(await stack.controlPlane.stop()).toBe(0);
    await until(
      () => (dp.output().includes("control plane (lease channel) unavailable") ? true : undefined),
      "the outage line",
    );
    await dp.stop();
    const lines = [stack.controlPlane, stack.dataPlane, dp].flatMap((p) =>
      p
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: string; msg: string }),
    );
    const warnings = lines.filter((l) => l.level === "warn" || l.level === "error");
    expect(warnings.filter((l) => l.msg === "rpc failed")).toEqual([]);
    expect(warnings.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
    expect(lines.filter((l) => l.msg === "control plane (lease channel) unavailable")).toHaveLength(1);
  });
});

function accessLines(): Array<Record<string, unknown>> {
  return stack.dataPlane
    .output()
    .split("\n")
    .filter((l) => l.includes('"access":true'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
