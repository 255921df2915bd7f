import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, openAIError } from "../support/e2e-http.js";
import { parseSseFrames } from "../support/e2e-sse.js";
import { RawConnection, type RawResponse } from "../support/raw-http-client.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

/** Short timeouts keep the tests short; the body's leaves a loaded machine room between upload pieces. */
const HEADERS_TIMEOUT_MS = 1_000;
const BODY_TIMEOUT_MS = 2_000;
/** Node checks the headers deadline once a second; past that, what a loaded machine may add. */
const CHECK_SLACK_MS = 1_000 + 2_000;

const HEADERS_LATE = openAIError(
  "invalid_request_error",
  "Request headers were not received in time",
  "request_timeout",
);
const BODY_LATE = openAIError(
  "invalid_request_error",
  "Request body was not received in time",
  "request_timeout",
);

/** Asserts a 408 in the OpenAI shape, with the headers every answer to a refused exchange carries. */
function expectTimeoutAnswer(res: RawResponse | undefined, body: unknown): void {
  expect(res?.status).toBe(408);
  expect(res?.headers["content-type"]).toBe("application/json");
  expect(res?.headers.connection).toBe("close");
  expect(res?.headers["x-request-id"]).toBeTruthy();
  expect(JSON.parse(res?.body.toString("utf8") ?? "")).toEqual(body);
}

function requestHead(path: string, headers: Record<string, string>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `POST ${path} HTTP/1.1\r\nhost: switchyard\r\n${lines.join("\r\n")}\r\n\r\n`;
}

describe("data-plane client timeouts", () => {
  let stack: Stack;
  let tenant: Tenant;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({
      label: "dp_client_timeouts",
      dataPlaneEnv: {
        SWITCHYARD_CLIENT_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        SWITCHYARD_CLIENT_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      },
    });
    tenant = await seedStackTenant(stack);
    url = stack.dataPlane.url;
  });
  afterAll(() => stack?.stop());

  describe("a client slow to send its headers", () => {
    it("is answered 408 and disconnected soon after the headers timeout, however many there are", async () => {
      // Slowloris: a request line, then one more header byte every 200 ms, so no connection is ever idle.
      const conns = await Promise.all(Array.from({ length: 50 }, () => RawConnection.open(url)));
      const started = Date.now();
      await Promise.all(conns.map((c) => c.write("POST /v1/responses HTTP/1.1\r\nhost: x\r\nx-slow: ")));
      const trickle = setInterval(() => {
        for (const c of conns) void c.write("a");
      }, 200);
      try {
        await Promise.all(conns.map((c) => c.waitEnded(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 5_000)));
      } finally {
        clearInterval(trickle);
      }
      const elapsed = Date.now() - started;
      await Promise.all(conns.map((c) => c.waitServerGone(5_000)));

      expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
      for (const c of conns) expectTimeoutAnswer(c.responses[0], HEADERS_LATE);
    });

    it("treats a connection that sends nothing the same way", async () => {
      const conn = await RawConnection.open(url);
      const started = Date.now();
      await conn.waitEnded(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 5_000);
      const elapsed = Date.now() - started;
      await conn.waitServerGone(5_000);

      expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
      expectTimeoutAnswer(conn.responses[0], HEADERS_LATE);
    });
  });

  describe("a client slow to send its body", () => {
    it("is answered 408 once the body stays silent for the body timeout, and disconnected", async () => {
      const before = stack.fake.requests.length;
      const conn = await RawConnection.open(url);
      const head = requestHead("/v1/responses", {
        ...bearer(tenant.key),
        "content-type": "application/json",
        "content-length": "200",
      });
      await conn.write(`${head}{"model":"gpt-4o","input":"`);
      const started = Date.now();
      const res = await conn.response(0, BODY_TIMEOUT_MS + 10_000);
      const elapsed = Date.now() - started;
      await conn.waitServerGone(5_000);

      expectTimeoutAnswer(res, BODY_LATE);
      expect(elapsed).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
      expect(stack.fake.requests.length).toBe(before);
    });

    it("reads a slow but steady upload that lasts longer than both timeouts, and answers it", async () => {
      const body = Buffer.from(JSON.stringify({ model: "gpt-4o", input: "x".repeat(1_200) }));
      const conn = await RawConnection.open(url);
      const head = requestHead("/v1/responses", {
        ...bearer(tenant.key),
        "content-type": "application/json",
        "content-length": String(body.length),
      });
      await conn.write(head);
      const started = Date.now();
      // 16 pieces, one every 250 ms: ~4 s in all, never silent for as long as a timeout.
      const piece = Math.ceil(body.length / 16);
      for (let at = 0; at < body.length; at += piece) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await conn.write(body.subarray(at, at + piece));
      }
      const res = await conn.response(0, 10_000);

      expect(Date.now() - started).toBeGreaterThan(HEADERS_TIMEOUT_MS + BODY_TIMEOUT_MS);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString("utf8"))).toMatchObject({
        object: "response",
        status: "completed",
      });
      conn.destroy();
    });

    it("closes a connection whose unread body falls silent after an early answer", async () => {
      // No key: the 401 goes out before the body is read; node would drain the rest for the next request.
      const conn = await RawConnection.open(url);
      const head = requestHead("/v1/responses", {
        "content-type": "application/json",
        "content-length": "500",
      });
      await conn.write(`${head}{"model":`);
      const res = await conn.response(0, 5_000);
      const answeredAt = Date.now();
      await conn.waitServerGone(BODY_TIMEOUT_MS + 10_000);

      expect(res.status).toBe(401);
      expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
    });
  });

  describe("answers that take longer than both timeouts", () => {
    it("streams an answer with silences longer than both timeouts to its end, and keeps the connection", async () => {
      const credential = tenant.accounts[0]?.credential;
      stack.fake.script({
        match: { apiKey: credential },
        headersDelayMs: 3_000,
        eventDelayMs: 300,
        times: 1,
      });
      const conn = await RawConnection.open(url);
      const body = JSON.stringify({ model: "gpt-4o", input: "hello", stream: true });
      const head = requestHead("/v1/responses", {
        ...bearer(tenant.key),
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      });
      const started = Date.now();
      await conn.write(head + body);
      const res = await conn.response(0, 30_000);
      const elapsed = Date.now() - started;
      const frames = parseSseFrames(res.body.toString("utf8"));
      // The same connection serves the next request: nothing was cut.
      await conn.write(head + JSON.stringify({ model: "gpt-4o", input: "again" }).padEnd(body.length));
      const next = await conn.response(1, 10_000);
      conn.destroy();

      expect(res.status).toBe(200);
      expect(elapsed).toBeGreaterThan(3_000 + BODY_TIMEOUT_MS);
      expect(frames.at(-1)?.event).toBe("response.completed");
      expect(next.status).toBe(200);
    });

    it("delivers a non-streamed answer that comes after more than both timeouts", async () => {
      const credential = tenant.accounts[0]?.credential;
      stack.fake.script({ match: { apiKey: credential }, headersDelayMs: 3_000, times: 1 });
      const conn = await RawConnection.open(url);
      const body = JSON.stringify({ model: "gpt-4o", input: "hello" });
      const head = requestHead("/v1/responses", {
        ...bearer(tenant.key),
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      });
      await conn.write(head + body);
      const res = await conn.response(0, 30_000);
      conn.destroy();

      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString("utf8"))).toMatchObject({
        object: "response",
        status: "completed",
      });
    });
  });
});
