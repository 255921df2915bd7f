import { type FuzzContext, invalidBody } from "./api-cases.js";
import { chunked, type Finish, type FuzzCase, MODELS_PATHS, PROXY_PATHS, rawRequest } from "./requests.js";

/** Token characters, and bytes no request line or header may hold. */
const TOKEN = "!#$%&'*+-.^_`|~ABCXYZabcxyz0189";
const CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f";

function error(category: string, bytes: Buffer, finish: Finish, head = false): FuzzCase {
  return { category, bytes, finish, expect: "error", ...(head ? { head } : {}) };
}

function finishOf(ctx: FuzzContext): Finish {
  return ctx.rng.pick(["end", "wait"]);
}

/** A request that is fine as HTTP but refused by the API: no key, or a body no route accepts. */
function refusedRequest(ctx: FuzzContext, target: string): { headers: string[]; body: Buffer } {
  const keyed = ctx.rng.chance(0.5);
  return {
    headers: keyed ? [`authorization: Bearer ${ctx.key}`, "content-type: application/json"] : [],
    body: invalidBody(ctx, target),
  };
}

/** Random bytes, tokens, TLS and HTTP/2 openings where a request line belongs. */
export function garbageRequestLine(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const bytes = rng.pick([
    () => Buffer.concat([rng.bytes(rng.int(1, 400)), Buffer.from("\r\n\r\n")]),
    () => Buffer.from(`${rng.text(rng.int(1, 60), `${TOKEN} /:?`)}\r\n\r\n`),
    () => Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, ...rng.bytes(40)]),
    () =>
      Buffer.from(
        `GET${rng.pick(["", "\t", "  "])}/v1/models${rng.pick(["", " HTTP/1.1 x", " HTTP"])}\r\n\r\n`,
      ),
    () => Buffer.from(`\r\n\r\n${rng.text(5)}\r\n\r\n`),
    () =>
      Buffer.from(`POST /v1/responses HTTP/1.1${CONTROL[rng.int(0, CONTROL.length - 1)]}\r\nhost: x\r\n\r\n`),
  ])();
  return error("garbage-request-line", bytes, finishOf(ctx));
}

/** Methods node knows and the routes do not serve, methods nobody knows, and malformed ones. */
export function badMethod(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const method = rng.pick([
    "DELETE",
    "PUT",
    "PATCH",
    "OPTIONS",
    "TRACE",
    "HEAD",
    "PROPFIND",
    "get",
    "Post",
    "FROB",
    rng.text(rng.int(1, 40), TOKEN),
    `PO${CONTROL[0]}ST`,
    "GET".repeat(200),
  ]);
  const target = rng.pick([...PROXY_PATHS, ...MODELS_PATHS]);
  const { headers, body } = refusedRequest(ctx, target);
  // HEAD on the models route would be answered like a GET (Express); it is sent without a key so it fails.
  const withKey = method === "HEAD" ? [] : headers;
  return error(
    "bad-method",
    rawRequest({ method, target, headers: withKey, body }),
    "end",
    method === "HEAD",
  );
}

/** Targets no route serves, or that node's parser refuses. */
export function badPath(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const target = rng.pick([
    () => `/v1/${rng.text(rng.int(1, 30))}`,
    () => `/v1/responses/${rng.text(8)}`,
    () => "/v1/../v1/responses",
    () => `/v1/%${rng.pick(["zz", "00", "c0%af", "e0%a4%a"])}/responses`,
    () => `/${"a/".repeat(rng.int(100, 3_000))}`,
    () => "*",
    () => "http://evil.example/v1/responses",
    () => `//v1//responses?${rng.text(20, "=&%;#?/")}`,
    () => `/v1/responses#${rng.text(5)}`,
    () => `/v1/mod${String.fromCharCode(rng.int(0x80, 0xff))}els`,
    () => `/v1/${CONTROL[rng.int(0, CONTROL.length - 1)]}`,
    () => "",
  ])();
  const method = rng.pick(["GET", "POST"]);
  const { headers, body } = refusedRequest(ctx, target);
  return error("bad-path", rawRequest({ method, target, headers, body }), "end");
}

/** Header lines node refuses, duplicates, folded lines, control bytes, odd line endings. */
export function badHeaders(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const target = rng.pick(PROXY_PATHS);
  const { headers, body } = refusedRequest(ctx, target);
  const odd = rng.pick([
    () => [`${rng.text(rng.int(1, 20), `${TOKEN}()<>@,;:\\"/[]?={} `)}: x`],
    () => [`x-bad: a${CONTROL[rng.int(0, CONTROL.length - 1)]}b`],
    () => ["x-folded: a", " continued"],
    () => ["host: a", "host: b"],
    () => ["content-type: application/json", "content-type: text/plain"],
    () => ["authorization: Bearer a", "authorization: Bearer b"],
    () => [`${rng.text(5)} : spaced`],
    () => [": no-name"],
    () => ["no-colon-at-all"],
    () => [
      `x-binary: ${rng
        .bytes(rng.int(1, 40))
        .toString("latin1")
        .replace(/[\r\n]/g, "")}`,
    ],
    () => Array.from({ length: rng.int(100, 1_500) }, (_, i) => `x-h${i}: ${i}`),
  ])();
  const eol = rng.pick(["\r\n", "\r\n", "\n", "\r"]);
  return error("bad-headers", rawRequest({ target, headers: [...headers, ...odd], body, eol }), "end");
}

/** Heads past node's 16 KiB: one long value, many headers, a long target. */
export function hugeHeaders(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const size = rng.int(17_000, 80_000);
  const parts = rng.pick([
    () => ({ headers: [`x-long: ${"a".repeat(size)}`] }),
    () => ({ headers: Array.from({ length: Math.ceil(size / 40) }, (_, i) => `x-${i}: ${"b".repeat(30)}`) }),
    () => ({ headers: [], target: `/v1/responses?${"q".repeat(size)}` }),
    () => ({ headers: [`authorization: Bearer ${"k".repeat(size)}`] }),
  ])();
  return error("huge-headers", rawRequest({ ...parts, body: "{}" }), "end");
}

/** HTTP versions other than 1.0 and 1.1, and 1.0 without Host. */
export function httpVersion(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const version = rng.pick([
    "HTTP/0.9",
    "HTTP/1.2",
    "HTTP/2.0",
    "HTTP/3",
    "HTTP/1.1.1",
    "http/1.1",
    "HTTP/11",
    "",
  ]);
  const target = rng.pick([...PROXY_PATHS, ...MODELS_PATHS]);
  if (rng.chance(0.2)) {
    // HTTP/1.0 needs no Host: it reaches the routes, which refuse it for its key or body.
    const { headers, body } = refusedRequest(ctx, target);
    const bytes = rawRequest({ target, version: "HTTP/1.0", headers: [...headers, "host: x"], body });
    return error("http-version", bytes, "end");
  }
  return error("http-version", rawRequest({ target, version, body: "{}" }), "end");
}

/** Content-Length and Transfer-Encoding that disagree, repeat, or say nothing sensible. */
export function lengthAndEncoding(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const target = rng.pick(PROXY_PATHS);
  const { headers, body } = refusedRequest(ctx, target);
  const n = body.length;
  const variant = rng.pick<() => { extra: string[]; contentLength?: false | string; payload: Buffer }>([
    () => ({ extra: ["transfer-encoding: chunked"], contentLength: String(n), payload: chunked([body]) }),
    () => ({ extra: [`content-length: ${n + 1}`], contentLength: String(n), payload: body }),
    () => ({
      extra: [],
      contentLength: rng.pick(["-1", "+5", "0x10", "1e3", " ", "5 5", "99999999999999999999"]),
      payload: body,
    }),
    () => ({ extra: ["transfer-encoding: gzip"], contentLength: false, payload: body }),
    () => ({
      extra: ["transfer-encoding: chunked, chunked"],
      contentLength: false,
      payload: chunked([body]),
    }),
    () => ({ extra: ["transfer-encoding: identity"], contentLength: false, payload: body }),
    () => ({ extra: ["transfer-encoding: Chunked"], contentLength: false, payload: chunked([body]) }),
    () => ({
      extra: ["transfer-encoding: chunked", "transfer-encoding: gzip"],
      contentLength: false,
      payload: chunked([body]),
    }),
    () => ({ extra: [], contentLength: String(n + rng.int(1, 500)), payload: body }),
    () => ({ extra: [], contentLength: String(Math.max(0, n - 3)), payload: body }),
    () => ({ extra: [], contentLength: false, payload: body }),
  ])();
  const bytes = rawRequest({
    target,
    headers: [...headers, ...variant.extra],
    body: variant.payload,
    ...(variant.contentLength === undefined ? {} : { contentLength: variant.contentLength }),
  });
  return error("length-and-encoding", bytes, "end");
}

/** Chunked bodies cut short, with bad sizes, missing CRLFs, huge extensions or garbage trailers. */
export function truncatedChunked(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const target = rng.pick(PROXY_PATHS);
  const { headers, body } = refusedRequest(ctx, target);
  const whole = chunked([body.subarray(0, 7), body.subarray(7)]);
  const payload = rng.pick([
    () => whole.subarray(0, rng.int(0, Math.max(0, whole.length - 1))),
    () => Buffer.from(`${rng.pick(["zz", "-1", "fffffffffffffffffff", "", " 5"])}\r\n{"a":1}\r\n0\r\n\r\n`),
    () => Buffer.from('5\r\n{"a":1}0\r\n\r\n'),
    () => Buffer.from(`5;${"e".repeat(rng.int(17_000, 40_000))}\r\nhello\r\n0\r\n\r\n`),
    () => Buffer.from(`2\r\n{}\r\n0\r\n${rng.text(10, `${TOKEN}:\x00`)}\r\n\r\n`),
    () => Buffer.from(`2\r\n{}\r\n0\r\n`),
  ])();
  const bytes = rawRequest({
    target,
    headers: [...headers, "transfer-encoding: chunked"],
    body: payload,
    contentLength: false,
  });
  return error("truncated-chunked", bytes, "end");
}

/** Two or three requests in one write, refused ones and garbage mixed. */
export function pipelined(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const one = (): Buffer => {
    const target = rng.pick([...PROXY_PATHS, "/v1/nope"]);
    const { headers, body } = refusedRequest(ctx, target);
    return rng.chance(0.2) ? rng.bytes(rng.int(5, 50)) : rawRequest({ target, headers, body });
  };
  const bytes = Buffer.concat(Array.from({ length: rng.int(2, 3) }, one));
  return error("pipelined", bytes, "end");
}

/** A request that stops half-way and stays open: the client timeouts answer it (408). */
export function slowClient(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const target = rng.pick(PROXY_PATHS);
  const { headers, body } = refusedRequest(ctx, target);
  const full = rawRequest({
    target,
    headers: [...headers, `authorization: Bearer ${ctx.key}`],
    body: body.length ? body : "{}",
  });
  const headEnd = full.indexOf("\r\n\r\n");
  const cut = rng.chance(0.5) ? rng.int(0, headEnd) : rng.int(headEnd + 4, full.length - 1);
  return error("slow-client", full.subarray(0, cut), "wait");
}

export { finishOf };
