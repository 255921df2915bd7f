import diagnosticsChannel from "node:diagnostics_channel";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { adapterFor } from "../../src/data-plane/upstream/adapters.js";
import {
  classifyErrorResponse,
  classifyTransportError,
  isStreamIdleTimeout,
} from "../../src/data-plane/upstream/failure.js";
import { SseTap } from "../../src/data-plane/upstream/sse-tap.js";
import type { UpstreamAdapter, UpstreamApi } from "../../src/data-plane/upstream/upstream-adapter.js";
import {
  type UpstreamCall,
  UpstreamPool,
  type UpstreamResponseHead,
} from "../../src/data-plane/upstream/upstream-pool.js";
import { readJsonResponse } from "../../src/data-plane/upstream/usage.js";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai/index.js";
import { type Socks5Server, startSocks5Server } from "../support/socks5-server.js";

type Json = Record<string, unknown>;

const CLIENT_HEADERS = {
  accept: "application/json",
  "content-type": "application/json",
  "user-agent": "codex_cli_rs/0.50.0",
  originator: "codex_cli_rs",
  session_id: "sess-42",
  "x-codex-turn-metadata": "turn-7",
  authorization: "Bearer sk-sy-the-clients-own-key",
  cookie: "sid=secret",
  "x-api-key": "sk-sy-the-clients-own-key",
  "accept-encoding": "gzip",
  connection: "keep-alive",
  "x-forwarded-for": "10.1.2.3",
};

let fake: FakeOpenAI;
let pool: UpstreamPool;
const adapter = adapterFor("openai-apikey") as UpstreamAdapter;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  pool = new UpstreamPool({ headersTimeoutMs: 200, bodyIdleTimeoutMs: 200, connectTimeoutMs: 1000 });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await pool.close();
  await fake.close();
});

/** The call an attempt on account `credential` makes for a client body, through the adapter. */
function callFor(api: UpstreamApi, body: Json, credential: string, upstreamModel: string, proxyUrl = "") {
  const raw = Buffer.from(JSON.stringify(body));
  const upstreamBody = adapter.requestBody({ api, body, raw, upstreamModel });
  const call: UpstreamCall = {
    url: adapter.endpointUrl(fake.url, api),
    headers: adapter.requestHeaders(CLIENT_HEADERS, credential),
    body: upstreamBody.bytes,
    proxyUrl,
  };
  return { call, hideChatUsageChunk: upstreamBody.hideChatUsageChunk };
}

interface Collected {
  head: UpstreamResponseHead;
  body: Buffer;
}

/** Sends through the pool and collects the whole answer (what an error path or a non-stream relay does). */
async function collect(target: UpstreamPool, call: UpstreamCall): Promise<Collected> {
  const chunks: Buffer[] = [];
  let head: UpstreamResponseHead | undefined;
  await target.stream(call, (h) => {
    head = h;
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
  });
  if (head === undefined) throw new Error("no response head");
  return { head, body: Buffer.concat(chunks) };
}

/** Sends through the pool with the SSE tap in the path, as the stream relay does. */
async function streamThroughTap(call: UpstreamCall, tap: SseTap): Promise<Collected> {
  const out: Buffer[] = [];
  let head: UpstreamResponseHead | undefined;
  await pool.stream(call, (h) => {
    head = h;
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(Buffer.from(tap.feed(chunk)));
        callback();
      },
      final(callback) {
        out.push(Buffer.from(tap.end()));
        callback();
      },
    });
  });
  if (head === undefined) throw new Error("no response head");
  return { head, body: Buffer.concat(out) };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: unknown) => error,
  );
}

function sseEvents(bytes: Buffer): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  createParser({ onEvent: (event) => events.push(event) }).feed(bytes.toString("utf8"));
  return events;
}

function expectOnlyAllowlistedHeaders(headers: Record<string, string>, credential: string): void {
  expect(headers.authorization).toBe(`Bearer ${credential}`);
  expect(headers["x-codex-turn-metadata"]).toBe("turn-7");
  expect(headers.session_id).toBe("sess-42");
  expect(headers.originator).toBe("codex_cli_rs");
  for (const name of ["cookie", "x-api-key", "accept-encoding", "x-forwarded-for"])
    expect(headers).not.toHaveProperty(name);
  expect(JSON.stringify(headers)).not.toContain("sk-sy-the-clients-own-key");
}

describe("a non-stream request through the pool", () => {
  it("reaches the upstream with the mapped model and allowlisted headers, and maps the answer", async () => {
    const { call } = callFor("responses", { model: "my-alias", input: "hi" }, "sk-acct-1", "gpt-4.1");
    const { head, body } = await collect(pool, call);
    expect(head.status).toBe(200);
    const [received] = fake.requests;
    expect(received?.path).toBe("/v1/responses");
    expect(received?.apiKey).toBe("sk-acct-1");
    expect(received?.body).toMatchObject({ model: "gpt-4.1", input: "hi" });
    expectOnlyAllowlistedHeaders(received?.headers ?? {}, "sk-acct-1");

    const clientHeaders = adapter.responseHeaders(head.headers);
    expect(clientHeaders["content-type"]).toBe("application/json");
    expect(clientHeaders["x-upstream-request-id"]).toMatch(/^req_/);
    expect(clientHeaders).not.toHaveProperty("x-request-id");
    expect(clientHeaders).not.toHaveProperty("openai-version");

    const answer = readJsonResponse(body, "my-alias");
    expect((JSON.parse(answer.bytes.toString()) as Json).model).toBe("my-alias");
    expect(answer.usage).toMatchObject({ input: 12, cachedInput: 0 });
    expect(answer.responseId).toMatch(/^resp_/);
  });
});

describe("a stream request through the pool", () => {
  it("asks a chat stream for usage, hides that chunk from the client and renames the model", async () => {
    fake.script({
      match: { apiKey: "sk-acct-2" },
      text: "one two three",
      usage: { input_tokens: 20, output_tokens: 3 },
    });
    const body = { model: "my-alias", messages: [{ role: "user", content: "count" }], stream: true };
    const { call, hideChatUsageChunk } = callFor("chat", body, "sk-acct-2", "gpt-4o");
    const tap = new SseTap({
      api: "chat",
      hideChatUsageChunk,
      rewriteModel: { from: "gpt-4o", to: "my-alias" },
    });
    const { head, body: out } = await streamThroughTap(call, tap);

    expect(head.status).toBe(200);
    const sent = fake.requests[0]?.body as Json;
    expect(sent).toMatchObject({ model: "gpt-4o", stream: true, stream_options: { include_usage: true } });
    expectOnlyAllowlistedHeaders(fake.requests[0]?.headers ?? {}, "sk-acct-2");
    expect(adapter.responseHeaders(head.headers)["content-type"]).toMatch(/^text\/event-stream/);

    const events = sseEvents(out);
    expect(events.at(-1)?.data).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data) as Json);
    expect(chunks.every((chunk) => chunk.model === "my-alias")).toBe(true);
    expect(chunks.some((chunk) => (chunk.choices as unknown[]).length === 0)).toBe(false);
    expect(tap.usage).toEqual({ input: 20, cachedInput: 0, output: 3, reasoning: 0, outOfRange: false });
    expect(tap.complete).toBe(true);
  });

  it("passes a Responses stream through untouched when no rewrite is needed", async () => {
    const { call } = callFor(
      "responses",
      { model: "gpt-4.1", input: "hi", stream: true },
      "sk-acct-3",
      "gpt-4.1",
    );
    const tap = new SseTap({ api: "responses" });
    const { body } = await streamThroughTap(call, tap);
    const events = sseEvents(body);
    expect(events[0]?.event).toBe("response.created");
    expect(events.at(-1)?.event).toBe("response.completed");
    expect(tap.complete).toBe(true);
    expect(tap.outputProduced).toBe(true);
    expect(tap.responseId).toMatch(/^resp_/);
  });
});

describe("connection reuse", () => {
  it("serves sequential requests over a couple of kept-alive sockets", async () => {
    const connected = diagnosticsChannel.channel("undici:client:connected");
    let sockets = 0;
    const onConnected = (message: unknown) => {
      const params = (message as { connectParams?: { port?: string | number } }).connectParams;
      if (Number(params?.port) === fake.port) sockets++;
    };
    connected.subscribe(onConnected);
    const fresh = new UpstreamPool();
    try {
      for (let i = 0; i < 10; i++) {
        const { call } = callFor(
          "chat",
          { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
          "sk-ka",
          "",
        );
        expect((await collect(fresh, call)).head.status).toBe(200);
      }
      expect(fake.total).toBe(10);
      // undici's pool frees a connection on its next tick, so the second request, sent the moment the first one
      // resolves, opens one more socket; from then on the two are reused.
      expect(sockets).toBeLessThanOrEqual(2);
      expect(fresh.stats()).toEqual([{ origin: fake.url, proxied: false, connected: sockets, running: 0 }]);
    } finally {
      connected.unsubscribe(onConnected);
      await fresh.close();
    }
  });
});

describe("failures", () => {
  it("times out waiting for headers in about the configured time", async () => {
    fake.script({ match: { apiKey: "sk-stall" }, stall: "before-headers" });
    const { call } = callFor("responses", { model: "gpt-4.1", input: "hi" }, "sk-stall", "");
    const started = performance.now();
    const error = await failureOf(collect(pool, call));
    const elapsed = performance.now() - started;
    expect(classifyTransportError(error)).toMatchObject({
      kind: "headers_timeout",
      status: 0,
      failover: true,
    });
    // undici runs headers and body timeouts on its coarse timer (ticks of ~0.5 s): 200 ms fires within ~1 s.
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(2000);
  });

  it("reports a reset before the headers as a transport failure", async () => {
    fake.script({ match: { apiKey: "sk-reset" }, reset: "before-headers" });
    const { call } = callFor("responses", { model: "gpt-4.1", input: "hi" }, "sk-reset", "");
    const failure = classifyTransportError(await failureOf(collect(pool, call)));
    expect(failure).toMatchObject({ kind: "transport", status: 0, failover: true });
    expect(failure.message).not.toBe("");
  });

  it("reports a refused connection as a transport failure", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const call: UpstreamCall = { url: `http://127.0.0.1:${port}/v1/responses`, headers: {}, body: "{}" };
    const failure = classifyTransportError(await failureOf(collect(pool, call)));
    expect(failure).toMatchObject({ kind: "transport", failover: true });
    expect(failure.message).toContain("ECONNREFUSED");
  });

  it("tells a body that goes silent after the headers apart", async () => {
    fake.script({ match: { apiKey: "sk-idle" }, stall: { afterEvents: 2 } });
    const { call } = callFor("responses", { model: "gpt-4.1", input: "hi", stream: true }, "sk-idle", "");
    const tap = new SseTap({ api: "responses" });
    const error = await failureOf(streamThroughTap(call, tap));
    expect(isStreamIdleTimeout(error)).toBe(true);
    expect(tap.events).toBe(2);
    expect(tap.complete).toBe(false);
  });

  it("classifies a 429 with its Retry-After", async () => {
    fake.script({ match: { apiKey: "sk-limited" }, status: 429, headers: { "retry-after": "7" } });
    const { call } = callFor("responses", { model: "gpt-4.1", input: "hi" }, "sk-limited", "");
    const { head, body } = await collect(pool, call);
    expect(head.status).toBe(429);
    expect(classifyErrorResponse(head.status, head.headers, body, Date.now())).toEqual({
      kind: "http_status",
      status: 429,
      resetAfterMs: 7000,
      message: "Rate limit reached for requests. Please try again later.",
      failover: true,
    });
  });
});

describe("an http proxy", () => {
  let proxy: Server;
  let tunnels = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // A minimal CONNECT proxy: the way undici reaches upstreams through http(s) proxies.
    proxy = createServer();
    proxy.on("connect", (req, client: Socket, head: Buffer) => {
      tunnels++;
      const [host = "", port = "80"] = (req.url ?? "").split(":");
      const upstream = connect(Number(port), host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined).once("close", () => sockets.delete(socket));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  it("carries the account's requests over reused tunnels", async () => {
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    for (let i = 0; i < 5; i++) {
      const { call } = callFor("responses", { model: "a", input: "hi" }, "sk-proxied", "gpt-4.1", proxyUrl);
      expect((await collect(pool, call)).head.status).toBe(200);
    }
    expect(tunnels).toBeGreaterThanOrEqual(1);
    expect(tunnels).toBeLessThanOrEqual(2);
    expect(fake.requests.map((request) => request.apiKey)).toEqual(Array(5).fill("sk-proxied"));
    expect(fake.requests.every((request) => request.path === "/v1/responses")).toBe(true);
  });
});

describe("a socks5 proxy", () => {
  let open: Socks5Server;
  let guarded: Socks5Server;

  beforeAll(async () => {
    open = await startSocks5Server();
    guarded = await startSocks5Server({ username: "proxy-user", password: "p@ss word" });
  });
  afterAll(async () => {
    await open.close();
    await guarded.close();
  });

  /** A call to the fake upstream named `host` (an IP, or "localhost"), through `proxyUrl`. */
  function viaProxy(proxyUrl: string, host: string, credential: string): UpstreamCall {
    const { call } = callFor("responses", { model: "a", input: "hi" }, credential, "gpt-4.1", proxyUrl);
    return { ...call, url: call.url.replace("127.0.0.1", host) };
  }

  it("socks5 without auth: the data plane resolves the name and sends the proxy an IP", async () => {
    const result = await collect(pool, viaProxy(open.url("socks5"), "127.0.0.1", "sk-socks-open"));
    expect(result.head.status).toBe(200);
    expect(open.connects.at(-1)).toMatchObject({ addressType: "ipv4", host: "127.0.0.1", username: "" });
    expect(fake.requests.at(-1)?.apiKey).toBe("sk-socks-open");
  });

  it("socks5h with username and password: the proxy gets the name to resolve, and the tunnel is reused", async () => {
    for (let i = 0; i < 3; i++) {
      const result = await collect(pool, viaProxy(guarded.url("socks5h"), "localhost", "sk-socks-auth"));
      expect(result.head.status).toBe(200);
    }
    expect(guarded.connects.length).toBeGreaterThanOrEqual(1);
    expect(guarded.connects.length).toBeLessThanOrEqual(2);
    expect(guarded.connects[0]).toMatchObject({
      addressType: "domain",
      host: "localhost",
      username: "proxy-user",
    });
    expect(fake.requests.map((r) => r.apiKey)).toEqual(Array(3).fill("sk-socks-auth"));
  });

  it("wrong proxy credentials are a transport failure that fails over, sending nothing upstream", async () => {
    const url = guarded.url("socks5").replace("p%40ss%20word", "wrong");
    const failure = classifyTransportError(
      await failureOf(collect(pool, viaProxy(url, "127.0.0.1", "sk-x"))),
    );
    expect(failure).toMatchObject({ kind: "transport", failover: true });
    expect(guarded.refused).toBeGreaterThanOrEqual(1);
    expect(fake.total).toBe(0);
  });

  it("an unknown proxy scheme is a transport failure naming the scheme, not the URL", async () => {
    const failure = classifyTransportError(
      await failureOf(collect(pool, viaProxy("socks4://user:pw@127.0.0.1:1", "127.0.0.1", "sk-x"))),
    );
    expect(failure).toMatchObject({
      kind: "transport",
      message: "unsupported proxy scheme socks4",
      failover: true,
    });
    expect(fake.total).toBe(0);
  });
});
