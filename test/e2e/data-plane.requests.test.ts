import { randomBytes } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, type HttpAnswer, http, openAIError, rawPost, sleep } from "../support/e2e-http.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

/** The data plane's body limit in this file: 64 KiB, shown to clients in MiB. */
const BODY_LIMIT_BYTES = 65_536;
const TOO_LARGE_MESSAGE = "Request body too large, limit is 0.0625 MB";

const MODEL = "gpt-4o";

/** Asserts the answer is exactly this OpenAI-shaped error, with a request id like every answer. */
function expectError(
  answer: HttpAnswer,
  status: number,
  type: string,
  message: string,
  code: string | null = null,
  param: string | null = null,
): void {
  expect({ status: answer.status, body: answer.json }).toEqual({
    status,
    body: openAIError(type, message, code, param),
  });
  expect(answer.headers.get("x-request-id")).toBeTruthy();
}

describe("data-plane requests: validation, limits, auth, health and passthrough", () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await startStack({
      label: "dp_requests",
      dataPlaneEnv: { SWITCHYARD_REQUEST_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) },
    });
    tenant = await seedStackTenant(stack);
  });
  afterAll(() => stack?.stop());

  /** The JSON body of the last request the fake upstream received. */
  const lastUpstreamBody = (): Record<string, unknown> =>
    (stack.fake.requests.at(-1)?.body ?? {}) as Record<string, unknown>;

  const post = (path: string, body: unknown, headers: Record<string, string> = bearer(tenant.key)) =>
    http(stack.dataPlane.url, path, { method: "POST", headers, body });

  describe.each([
    { api: "responses", path: "/v1/responses", extra: { input: "hi" } },
    { api: "chat", path: "/v1/chat/completions", extra: { messages: [{ role: "user", content: "hi" }] } },
  ])("validation shared by $api ($path)", ({ path, extra }) => {
    it.each([
      { name: "an empty body", body: "", message: "Request body is empty", param: null },
      {
        name: "a body that is not JSON",
        body: "{not json",
        message: "Failed to parse request body",
        param: null,
      },
      { name: "a JSON array body", body: "[1,2]", message: "Failed to parse request body", param: null },
      { name: "a missing model", body: { ...extra }, message: "model is required", param: "model" },
      {
        name: "a numeric model",
        body: { ...extra, model: 42 },
        message: "model is required",
        param: "model",
      },
      { name: "an empty model", body: { ...extra, model: "" }, message: "model is required", param: "model" },
      {
        name: "a string stream",
        body: { ...extra, model: MODEL, stream: "yes" },
        message: "invalid stream field type",
        param: "stream",
      },
      {
        name: "a null stream",
        body: { ...extra, model: MODEL, stream: null },
        message: "invalid stream field type",
        param: "stream",
      },
    ])("answers 400 for $name", async ({ body, message, param }) => {
      const before = stack.fake.requests.length;
      const answer = await post(path, body);
      expectError(answer, 400, "invalid_request_error", message, null, param);
      expect(stack.fake.requests.length).toBe(before);
    });
  });

  describe("validation of /responses tool outputs", () => {
    it("answers 400 for a function_call_output without call_id and no context", async () => {
      const answer = await post("/v1/responses", {
        model: MODEL,
        input: [{ type: "function_call_output", output: "42" }],
      });
      expectError(
        answer,
        400,
        "invalid_request_error",
        "function_call_output requires call_id or previous_response_id; if relying on history, ensure " +
          "store=true and reuse previous_response_id",
        null,
        "input",
      );
    });

    it("answers 400 for a function_call_output whose call_id has no item_reference", async () => {
      const answer = await post("/v1/responses", {
        model: MODEL,
        input: [
          { type: "item_reference", id: "call_other" },
          { type: "function_call_output", call_id: "call_1", output: "42" },
        ],
      });
      expectError(
        answer,
        400,
        "invalid_request_error",
        "function_call_output requires item_reference ids matching each call_id, or " +
          "previous_response_id/tool_call context; if relying on history, ensure store=true and reuse " +
          "previous_response_id",
        null,
        "input",
      );
    });

    it.each([
      {
        name: "previous_response_id is present",
        body: {
          model: MODEL,
          previous_response_id: "resp_earlier",
          input: [{ type: "function_call_output", call_id: "call_1", output: "42" }],
        },
      },
      {
        name: "an item_reference matches the call_id",
        body: {
          model: MODEL,
          input: [
            { type: "item_reference", id: "call_1" },
            { type: "function_call_output", call_id: "call_1", output: "42" },
          ],
        },
      },
      {
        name: "the input holds the function_call with its call_id",
        body: {
          model: MODEL,
          input: [
            { type: "function_call", call_id: "call_1", name: "lookup", arguments: "{}" },
            { type: "function_call_output", call_id: "call_1", output: "42" },
          ],
        },
      },
    ])("forwards a function_call_output when $name", async ({ body }) => {
      const before = stack.fake.requests.length;
      const answer = await post("/v1/responses", body);
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-request-id")).toBeTruthy();
      expect((answer.json as { object: string }).object).toBe("response");
      expect(stack.fake.requests.length).toBe(before + 1);
      expect(lastUpstreamBody().input).toEqual(body.input);
    });

    it.each([
      { name: "missing", body: { model: MODEL } },
      { name: "empty", body: { model: MODEL, messages: [] } },
      { name: "not an array", body: { model: MODEL, messages: "hi" } },
    ])("answers 400 on chat completions when messages is $name", async ({ body }) => {
      const answer = await post("/v1/chat/completions", body);
      expectError(answer, 400, "invalid_request_error", "messages is required", null, "messages");
    });
  });

  describe("request body limit", () => {
    const tooLarge = openAIError("invalid_request_error", TOO_LARGE_MESSAGE, "request_too_large");
    const opening = Buffer.from(`{"model":"${MODEL}","input":"`);

    it("answers 413 to a declared content-length over the limit before any of the rest is sent", async () => {
      // The socket declares a 200 MiB body and sends only its first bytes: the answer can only come back if the
      // data plane refuses on the declared length, without waiting for (or reading) the rest.
      const answer = await rawPost(
        stack.dataPlane.url,
        "/v1/responses",
        [
          `authorization: Bearer ${tenant.key}`,
          "content-type: application/json",
          `content-length: ${200 * 1024 * 1024}`,
        ],
        (sent) => (sent === 0 ? opening : null),
      );
      expect(answer.statusLine).toBe("HTTP/1.1 413 Payload Too Large");
      expect(answer.headers["x-request-id"]).toBeTruthy();
      expect(JSON.parse(answer.body)).toEqual(tooLarge);
      expect(answer.bodyBytesSentBeforeAnswer).toBe(opening.length);
    });

    it("answers 413 to a chunked body over the limit while far less than all of it was sent", async () => {
      // Without a content-length the data plane must count what it reads and stop at the limit. The socket
      // writes one 16 KiB chunk at a time and only when the previous one was accepted, so what it had sent
      // when the answer began bounds what the server read (the rest sits in the kernel's socket buffers, a few
      // MiB at most). A server that drained the body before answering would see all 64 MiB sent first.
      const total = 64 * 1024 * 1024;
      const piece = Buffer.alloc(16 * 1024, "a");
      const frame = Buffer.concat([
        Buffer.from(`${piece.length.toString(16)}\r\n`),
        piece,
        Buffer.from("\r\n"),
      ]);
      const answer = await rawPost(
        stack.dataPlane.url,
        "/v1/responses",
        [
          `authorization: Bearer ${tenant.key}`,
          "content-type: application/json",
          "transfer-encoding: chunked",
        ],
        (sent) => {
          if (sent === 0) return Buffer.from(`${opening.length.toString(16)}\r\n${opening}\r\n`);
          return sent < total ? frame : null;
        },
      );
      expect(answer.statusLine).toBe("HTTP/1.1 413 Payload Too Large");
      expect(answer.headers["x-request-id"]).toBeTruthy();
      expect(JSON.parse(answer.body)).toEqual(tooLarge);
      expect(answer.bodyBytesSentBeforeAnswer).toBeGreaterThan(BODY_LIMIT_BYTES);
      expect(answer.bodyBytesSentBeforeAnswer).toBeLessThan(total / 4);
    });

    it("gives a fetch client still streaming its body the 413, not a connection error", async () => {
      // The same early answer, seen by fetch (undici, which the openai SDK uses) streaming a body that is
      // produced only as fast as the socket takes it. The 413 must reach it while it is still sending.
      const total = 64 * 1024 * 1024;
      const piece = new Uint8Array(16 * 1024).fill(0x61);
      let produced = 0;
      let stopped = false;
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          produced += opening.length;
          controller.enqueue(new Uint8Array(opening));
        },
        pull(controller) {
          if (stopped || produced >= total) {
            controller.close();
            return;
          }
          produced += piece.length;
          controller.enqueue(piece);
        },
      });
      const init: RequestInit & { duplex: "half" } = {
        method: "POST",
        headers: { ...bearer(tenant.key), "content-type": "application/json" },
        body: source,
        duplex: "half",
      };
      const outcome = await fetch(`${stack.dataPlane.url}/v1/responses`, init).then(
        async (res) => ({ status: res.status, body: (await res.json()) as unknown }),
        (err: Error) => ({ status: 0, body: `${err.message}: ${String(err.cause)}` }),
      );
      const producedAtAnswer = produced;
      stopped = true;
      expect(outcome).toEqual({ status: 413, body: tooLarge });
      // Answered while the client was still sending (after the 413 the data plane reads and drops the rest for a
      // while, so how much more the client produced depends on timing; the raw-socket tests bound the reading).
      expect(producedAtAnswer).toBeLessThan(total);
    });

    it("accepts a body just under the limit", async () => {
      const input = "a".repeat(BODY_LIMIT_BYTES - 200);
      const answer = await post("/v1/responses", { model: MODEL, input });
      expect(answer.status).toBe(200);
      expect(lastUpstreamBody().input).toBe(input);
    });
  });

  describe("authentication", () => {
    let revokedKey: string;
    let expiringKey: string;
    let expiresAt: number;

    beforeAll(async () => {
      const revoked = await stack.admin.createApiKey({ userId: tenant.userId, groupId: tenant.groupId });
      revokedKey = revoked.key;
      await stack.admin.revokeApiKey({ id: revoked.apiKey?.id ?? "" });
      expiresAt = Date.now() + 1_500;
      const expiring = await stack.admin.createApiKey({
        userId: tenant.userId,
        groupId: tenant.groupId,
        expireTime: timestampFromMs(expiresAt),
      });
      expiringKey = expiring.key;
    });

    const unknownKey = `sk-sy-${randomBytes(32).toString("base64url")}`;

    describe.each([
      { method: "POST" as const, path: "/v1/responses", body: { model: MODEL, input: "hi" } },
      { method: "POST" as const, path: "/responses", body: { model: MODEL, input: "hi" } },
      { method: "POST" as const, path: "/openai/v1/responses", body: { model: MODEL, input: "hi" } },
      {
        method: "POST" as const,
        path: "/v1/chat/completions",
        body: { model: MODEL, messages: [{ role: "user", content: "hi" }] },
      },
      {
        method: "POST" as const,
        path: "/chat/completions",
        body: { model: MODEL, messages: [{ role: "user", content: "hi" }] },
      },
      { method: "GET" as const, path: "/v1/models", body: undefined },
      { method: "GET" as const, path: "/models", body: undefined },
    ])("$method $path", ({ method, path, body }) => {
      const call = (headers: Record<string, string>, query = "") =>
        http(stack.dataPlane.url, `${path}${query}`, { method, headers, body });

      it("answers 401 without a key", async () => {
        expectError(
          await call({}),
          401,
          "authentication_error",
          "You didn't provide an API key. You need to provide your API key in an Authorization header using " +
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or in an x-api-key, x-goog-api-key or api-key header.",
          "invalid_api_key",
        );
      });

      it("answers 401 to a malformed key, echoing no more than its first character", async () => {
        expectError(
          await call({ authorization: "Bearer nope" }),
          401,
          "authentication_error",
          "Incorrect API key provided: n***",
          "invalid_api_key",
        );
      });

      it("answers 401 invalid_api_key to a well-formed unknown key, without echoing it", async () => {
        const answer = await call(bearer(unknownKey));
        expect(answer.status).toBe(401);
        expect(answer.json).toMatchObject({
          error: { type: "authentication_error", code: "invalid_api_key" },
        });
        expect(answer.text).not.toContain(unknownKey.slice(6));
        expect(answer.headers.get("x-request-id")).toBeTruthy();
      });

      it("answers 401 to a revoked key", async () => {
        expectError(
          await call(bearer(revokedKey)),
          401,
          "authentication_error",
          "API key is disabled",
          "invalid_api_key",
        );
      });

      it("answers 403 to an expired key", async () => {
        const wait = expiresAt + 100 - Date.now();
        if (wait > 0) await sleep(wait);
        expectError(
          await call(bearer(expiringKey)),
          403,
          "permission_error",
          "API key expired",
          "api_key_expired",
        );
      });

      it("answers 400 to a key in the query string, even alongside a valid header", async () => {
        expectError(
          await call(bearer(tenant.key), `?api_key=${tenant.key}`),
          400,
          "invalid_request_error",
          "API key in query parameters is not allowed",
        );
      });

      it.each(["x-api-key", "api-key"])(
        "accepts the key in the %s header like a Bearer key",
        async (name) => {
          const viaBearer = await call(bearer(tenant.key));
          const viaHeader = await call({ [name]: tenant.key });
          expect(viaBearer.status).toBe(200);
          expect(viaHeader.status).toBe(200);
          expect(viaHeader.headers.get("x-request-id")).toBeTruthy();
          const object = (viaHeader.json as { object: string }).object;
          expect(object).toBe((viaBearer.json as { object: string }).object);
        },
      );
    });
  });

  describe("health, metrics and unknown routes", () => {
    it("answers /healthz and /readyz with 200", async () => {
      const health = await http(stack.dataPlane.url, "/healthz");
      const ready = await http(stack.dataPlane.url, "/readyz");
      expect([health.status, ready.status]).toEqual([200, 200]);
      expect(health.headers.get("x-request-id")).toBeTruthy();
      expect(ready.json).toEqual({ status: "ready" });
    });

    it("exposes Prometheus text counting the requests answered so far", async () => {
      const answer = await http(stack.dataPlane.url, "/metrics");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toContain("text/plain");
      expect(answer.text).toContain("# TYPE switchyard_requests_total counter");
      expect(answer.text).toMatch(/^switchyard_requests_total\{[^}]*status="400"[^}]*\} [1-9]/m);
      expect(answer.text).toMatch(/^switchyard_requests_total\{[^}]*status="200"[^}]*\} [1-9]/m);
    });

    it.each([
      { method: "GET" as const, path: "/v1/nope" },
      { method: "POST" as const, path: "/v1/embeddings" },
      { method: "POST" as const, path: "/v1/completions" },
      { method: "GET" as const, path: "/v1/responses" },
      { method: "GET" as const, path: "/v1/responses/resp_123" },
    ])("answers $method $path with an OpenAI-shaped 404", async ({ method, path }) => {
      const answer = await http(stack.dataPlane.url, path, {
        method,
        headers: bearer(tenant.key),
        ...(method === "POST" ? { body: { model: MODEL } } : {}),
      });
      expectError(
        answer,
        404,
        "invalid_request_error",
        `Unknown request URL: ${method} ${path}`,
        "unknown_url",
      );
    });
  });

  describe("upstream errors", () => {
    it("answers with a passthrough rule's status and message within 1 s of the rule being created", async () => {
      const own = await seedStackTenant(stack);
      const credential = own.accounts[0]?.credential ?? "";
      const upstreamMessage = "Your organization quota is blocked until further notice.";
      stack.fake.script({
        match: { apiKey: credential },
        status: 400,
        error: { type: "invalid_request_error", code: "quota_blocked", message: upstreamMessage },
      });
      const ask = () => post("/v1/responses", { model: MODEL, input: "hi" }, bearer(own.key));

      const before = await ask();
      expectError(before, 400, "invalid_request_error", upstreamMessage, "quota_blocked");

      await stack.admin.createPassthroughRule({
        name: `blocked-${randomBytes(3).toString("hex")}`,
        keywords: ["quota is blocked"],
        passthroughCode: false,
        responseCode: 422,
        passthroughBody: false,
        customMessage: "Try again tomorrow",
      });
      const created = performance.now();
      let after = await ask();
      while (after.status !== 422 && performance.now() - created < 1_000) {
        await sleep(25);
        after = await ask();
      }
      const tookMs = performance.now() - created;
      expectError(after, 422, "upstream_error", "Try again tomorrow");
      expect(tookMs).toBeLessThan(1_000);
    });

    it("passes a context-length 400 through with its type, code and param, without failing over", async () => {
      const own = await seedStackTenant(stack, { accounts: [{}, {}] });
      const credentials = own.accounts.map((a) => a.credential);
      const upstreamError = {
        type: "invalid_request_error",
        code: "context_length_exceeded",
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
        param: "input",
      };
      for (const credential of credentials) {
        stack.fake.script({ match: { apiKey: credential }, status: 400, error: upstreamError });
      }
      const before = stack.fake.requests.length;
      const answer = await post(
        "/v1/responses",
        { model: MODEL, input: "a very long prompt" },
        bearer(own.key),
      );
      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ error: upstreamError });
      expect(answer.headers.get("x-request-id")).toBeTruthy();
      const seen = stack.fake.requests.slice(before).filter((r) => credentials.includes(r.apiKey ?? ""));
      expect(seen).toHaveLength(1);
    });
  });
});
