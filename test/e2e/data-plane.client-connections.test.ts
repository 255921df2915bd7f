import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, openAIError } from "../support/e2e-http.js";
import { parseSseFrames, postJson } from "../support/e2e-sse.js";
import { RawConnection } from "../support/raw-http-client.js";
import { seedStackTenant, startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;
type Tenant = Awaited<ReturnType<typeof seedStackTenant>>;

const MALFORMED = "Malformed HTTP request";

function post(path: string, headers: Record<string, string>, body: string): string {
  const lines = Object.entries({ ...headers, "content-length": String(Buffer.byteLength(body)) });
  return `POST ${path} HTTP/1.1\r\nhost: switchyard\r\n${lines.map(([n, v]) => `${n}: ${v}`).join("\r\n")}\r\n\r\n${body}`;
}

describe("data-plane client connections: refused requests, half-closed and departed clients", () => {
  let stack: Stack;
  let tenant: Tenant;
  let url: string;
  let keyed: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ label: "dp_client_connections" });
    tenant = await seedStackTenant(stack);
    url = stack.dataPlane.url;
    keyed = { ...bearer(tenant.key), "content-type": "application/json" };
  });
  afterAll(() => stack?.stop());

  describe("a request node's HTTP parser refuses", () => {
    const hugeHeaders = `GET /v1/models HTTP/1.1\r\nhost: x\r\n${"x-filler: ".concat("a".repeat(1_000), "\r\n").repeat(20)}\r\n`;
    it.each([
      { name: "a garbage request line", bytes: "GARBAGE\r\n\r\n", status: 400, message: MALFORMED },
      {
        name: "an unknown method",
        bytes: "FROB /v1/models HTTP/1.1\r\nhost: x\r\n\r\n",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "a space inside the target",
        bytes: "GET /v1/mo dels HTTP/1.1\r\nhost: x\r\n\r\n",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "a header line without a colon",
        bytes: "GET /v1/models HTTP/1.1\r\nhost: x\r\nbroken\r\n\r\n",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "both content-length and transfer-encoding",
        bytes:
          "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "two different content-lengths",
        bytes: "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "a content-length that is not a number",
        bytes: "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-length: 1e3\r\n\r\n",
        status: 400,
        message: MALFORMED,
      },
      {
        name: "headers over node's 16 KiB",
        bytes: hugeHeaders,
        status: 431,
        message: "Request headers too large",
        code: "request_headers_too_large",
      },
      {
        name: "HTTP/1.1 without a Host",
        bytes: "GET /v1/models HTTP/1.1\r\n\r\n",
        status: 400,
        message: "Missing Host header",
      },
      {
        name: "an Expect other than 100-continue",
        bytes: "GET /v1/models HTTP/1.1\r\nhost: x\r\nexpect: teapot\r\n\r\n",
        status: 417,
        message: "Unsupported Expect header",
      },
      {
        name: "a CONNECT request",
        bytes: "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n",
        status: 400,
        message: "Unsupported HTTP method",
      },
    ])(
      "answers $name with $status in the OpenAI error shape, then closes",
      async ({ bytes, status, message, code }) => {
        const conn = await RawConnection.open(url);
        await conn.write(bytes);
        const res = await conn.response(0, 5_000);
        await conn.waitEnded(5_000);
        conn.destroy();

        expect(res.status).toBe(status);
        expect(res.headers["content-type"]).toBe("application/json");
        expect(res.headers["content-length"]).toBe(String(res.body.length));
        expect(res.headers.connection).toBe("close");
        expect(res.headers["x-request-id"]).toBeTruthy();
        expect(JSON.parse(res.body.toString("utf8"))).toEqual(
          openAIError("invalid_request_error", message, code),
        );
      },
    );

    it.each([
      { name: "a bad chunk size", chunk: "zz\r\n", status: 400, message: MALFORMED, code: null },
      {
        name: "chunk extensions over node's 16 KiB",
        chunk: `2;${"e".repeat(20_000)}\r\n{}\r\n`,
        status: 413,
        message: "Request chunk extensions too large",
        code: "request_too_large",
      },
    ])(
      "answers $name inside a keyed request's chunked body the same way",
      async ({ chunk, status, message, code }) => {
        const conn = await RawConnection.open(url);
        const head = `POST /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: ${keyed.authorization}\r\n`;
        await conn.write(`${head}transfer-encoding: chunked\r\n\r\n5\r\n{"mod\r\n${chunk}`);
        const res = await conn.response(0, 5_000);
        conn.destroy();

        expect(res.status).toBe(status);
        expect(JSON.parse(res.body.toString("utf8"))).toEqual(
          openAIError("invalid_request_error", message, code),
        );
      },
    );
  });

  it("answers the requests pipelined before a refused one first, in order, then the refusal", async () => {
    const conn = await RawConnection.open(url);
    const refusedBody = post("/v1/responses", keyed, "");
    const unknownRoute = "POST /v1/nope HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
    conn.end(`${refusedBody}${unknownRoute}K\xecqtQE`);
    await conn.waitEnded(10_000);
    conn.destroy();

    expect(conn.responses.map((r) => r.status)).toEqual([400, 404, 400]);
    expect(
      conn.responses.map(
        (r) => (JSON.parse(r.body.toString("utf8")) as { error: { message: string } }).error.message,
      ),
    ).toEqual(["Request body is empty", "Unknown request URL: POST /v1/nope", MALFORMED]);
  });

  describe("a client that half-closes after its request", () => {
    it.each([
      { path: "/v1/responses", body: { model: "gpt-4o", input: "hi" }, object: "response" },
      {
        path: "/v1/chat/completions",
        body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
        object: "chat.completion",
      },
    ])("gets its whole non-streamed answer from $path", async ({ path, body, object }) => {
      const conn = await RawConnection.open(url);
      conn.end(post(path, keyed, JSON.stringify(body)));
      const res = await conn.response(0, 10_000);
      await conn.waitClosed(5_000);

      // Node marks the answer as the connection's last and closes once it is out.
      expect(conn.isClosed).toBe(true);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString("utf8"))).toMatchObject({ object });
    });

    it("gets its whole streamed answer", async () => {
      const conn = await RawConnection.open(url);
      conn.end(post("/v1/responses", keyed, JSON.stringify({ model: "gpt-4o", input: "hi", stream: true })));
      const res = await conn.response(0, 10_000);
      const frames = parseSseFrames(res.body.toString("utf8"));

      expect(res.status).toBe(200);
      expect(frames.filter((f) => f.event === "response.output_text.delta").length).toBeGreaterThan(0);
      expect(frames.at(-1)?.event).toBe("response.completed");
    });
  });

  describe("a client that is really gone", () => {
    /** Sends a second request as the same user (concurrency 1) and returns how long after `since` it completed. */
    async function secondRequestDoneAfter(own: Tenant, since: number): Promise<number> {
      const res = await postJson(`${url}/v1/responses`, own.key, { model: "gpt-4o", input: "second" });
      expect(res.status).toBe(200);
      await res.text();
      return Date.now() - since;
    }

    it("frees its user slot at once when it closes its socket in the middle of a stream", async () => {
      const own = await seedStackTenant(stack, { userConcurrency: 1 });
      const apiKey = own.accounts[0]?.credential;
      // ~3.6 s of upstream stream; the client leaves after the first deltas with nothing left unread (a FIN).
      stack.fake.script({ match: { apiKey }, text: "x".repeat(30), events: 30, eventDelayMs: 100, times: 1 });
      const conn = await RawConnection.open(url);
      await conn.write(
        post("/v1/responses", bearer(own.key), JSON.stringify({ model: "gpt-4o", input: "a", stream: true })),
      );
      await conn.until((text) => (text.match(/output_text\.delta/g) ?? []).length >= 3, 10_000);
      conn.destroy();
      const leftAt = Date.now();
      const tookMs = await secondRequestDoneAfter(own, leftAt);

      expect(tookMs).toBeLessThan(1_500);
      expect(stack.fake.inFlight).toBeGreaterThanOrEqual(1);
    });

    it("frees its user slot at once when it resets while waiting for a non-streamed answer", async () => {
      const own = await seedStackTenant(stack, { userConcurrency: 1 });
      const apiKey = own.accounts[0]?.credential;
      stack.fake.script({ match: { apiKey }, headersDelayMs: 4_000, times: 1 });
      const before = stack.fake.inFlight;
      const conn = await RawConnection.open(url);
      await conn.write(
        post("/v1/responses", bearer(own.key), JSON.stringify({ model: "gpt-4o", input: "a" })),
      );
      await stack.fake.waitForInFlight(before + 1, 10_000);
      conn.reset();
      const leftAt = Date.now();
      const tookMs = await secondRequestDoneAfter(own, leftAt);

      expect(tookMs).toBeLessThan(1_500);
    });
  });
});
