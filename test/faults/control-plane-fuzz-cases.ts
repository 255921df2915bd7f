import { gzipSync } from "node:zlib";
import type { DescMessage, DescMethod } from "@bufbuild/protobuf";
import { SERVED_SERVICES, SERVICE_AUDIENCES } from "../../src/control-plane/transport/routes.js";
import {
  ADMIN_READ_MAX_BYTES,
  GATEWAY_READ_MAX_BYTES,
  OPEN_READ_MAX_BYTES,
} from "../../src/shared/rpc-limits.js";
import type { RawCall, RawTransport } from "../support/raw-rpc-client.js";
import { bytes, pick, type Rng, seededRandom } from "./seeded-random.js";
import { socketCase } from "./socket-cases.js";

/** The tokens a fuzzed call may present, named by whom they belong to. */
export interface FuzzTokens {
  admin: string;
  dataPlane: string;
}

/** One generated call and the labels the figures are grouped by. */
export interface FuzzCase {
  call: RawCall;
  protocol: string;
  token: string;
  shape: string;
}

const METHODS: readonly DescMethod[] = SERVED_SERVICES.flatMap((s) => s.methods);
const limitOf = (m: DescMethod): number =>
  ({ admin: ADMIN_READ_MAX_BYTES, "data-plane": GATEWAY_READ_MAX_BYTES, open: OPEN_READ_MAX_BYTES })[
    SERVICE_AUDIENCES.get(m.parent.typeName) ?? "admin"
  ];

/** Content types per protocol, valid ones and the wrong ones a confused client sends. */
const PROTOCOLS: Record<string, readonly string[]> = {
  grpc: ["application/grpc", "application/grpc+proto", "application/grpc+json"],
  "grpc-web": [
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web+json",
    "application/grpc-web-text",
  ],
  "connect-unary": ["application/proto", "application/json", "application/json; charset=utf-8"],
  "connect-stream": ["application/connect+proto", "application/connect+json"],
  wrong: [
    "text/plain",
    "application/xml",
    "",
    "application/grpc-foo",
    "multipart/form-data; boundary=x",
    "application/connect+xml",
    "ääh/ü",
  ],
};

const ODD_PATHS = [
  "/switchyard.v1.NoSuchService/Get",
  "/switchyard.v1.AdminService/NoSuchMethod",
  "/grpc.health.v1.Health/Check/extra",
  "//switchyard.v1.AdminService/GetSettings",
  "/switchyard.v1.AdminService%2FGetSettings",
  "/switchyard.v1.AdminService/GetSettings?connect=v1&encoding=json&message=%7B%7D",
  "/%00%ff",
  "/..%2f..%2fetc%2fpasswd",
  "/%C3%BC%E2%82%AC",
  "/metrics",
  "/",
  `/${"a".repeat(4000)}`,
  `/switchyard.v1.AdminService/${"GetSettings".repeat(300)}`,
];

const ODD_AUTHORIZATION = [
  "Bearer",
  "Bearer ",
  "Basic dXNlcjpwYXNz",
  "bearer  two tokens",
  `Bearer ${"x".repeat(10_000)}`,
  "Bearer \u00e9\u00e8",
  "Token abc",
];

const BAD_HEADERS: readonly (readonly [string, string])[] = [
  ["grpc-timeout", "abc"],
  ["grpc-timeout", "99999999999H"],
  ["grpc-timeout", "1n"],
  ["grpc-timeout", "-1S"],
  ["connect-timeout-ms", "-5"],
  ["connect-timeout-ms", "1e9"],
  ["connect-timeout-ms", "99999999999999999999"],
  ["connect-timeout-ms", "0"],
  ["connect-protocol-version", "2"],
  ["grpc-encoding", "snappy"],
  ["grpc-encoding", "gzip"],
  ["connect-content-encoding", "br"],
  ["content-encoding", "gzip"],
  ["grpc-accept-encoding", "\u00ff\u00fe"],
  ["x-huge", "h".repeat(20_000)],
  ["te", "gzip"],
];

/**
 * The calls of one fuzz run: `count` of them from `seed`, spread over every protocol, token and shape. Made one at
 * a time, as they are sent: bodies of up to 17 MB each would not all fit in memory at once.
 */
export function* fuzzCases(seed: number, count: number, tokens: FuzzTokens): Generator<FuzzCase> {
  const rng = seededRandom(seed);
  for (let i = 0; i < count; i++) yield fuzzCase(rng, tokens);
}

function fuzzCase(rng: Rng, tokens: FuzzTokens): FuzzCase {
  const method = pick(rng, METHODS);
  const protocol = pick(rng, Object.keys(PROTOCOLS));
  const transport: RawTransport = rng() < 0.08 ? "socket" : rng() < 0.5 ? "h2c" : "http/1.1";
  if (transport === "socket") return socketCase(rng, method, tokens);
  const headers: Record<string, string> = { "content-type": pick(rng, PROTOCOLS[protocol] ?? []) };
  if (protocol === "grpc") headers.te = "trailers";
  const token = pickToken(rng, method, tokens);
  if (token.header !== undefined) headers.authorization = token.header;
  for (let i = 0, n = rng() < 0.3 ? 1 + Math.floor(rng() * 3) : 0; i < n; i++) {
    const [name, value] = pick(rng, BAD_HEADERS);
    // node's HTTP/2 client refuses to send a `te` other than "trailers" (a connection-specific header).
    if (name !== "te" || transport !== "h2c") headers[name] = value;
  }
  if (rng() < 0.03) for (let i = 0; i < 120; i++) headers[`x-many-${i}`] = "v";
  const httpMethod = rng() < 0.1 ? pick(rng, ["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]) : "POST";
  const path = rng() < 0.1 ? pick(rng, ODD_PATHS) : `/${method.parent.typeName}/${method.name}`;
  const envelope = protocol !== "connect-unary" && protocol !== "wrong";
  const json = (headers["content-type"] ?? "").includes("json");
  const { body, shape } = fuzzBody(rng, method, {
    envelope,
    json,
    gzip: headers["grpc-encoding"] === "gzip",
  });
  const call: RawCall = { transport, method: httpMethod, path, headers, body };
  // A watch or a channel that was opened properly stays open until the client leaves.
  if (method.methodKind !== "unary") call.openStreamMs = 2_000;
  // Past node's header limits, HTTP/1.1 answers 431 and HTTP/2 refuses the stream (ENHANCE_YOUR_CALM).
  const hugeHeaders = headers["x-huge"] !== undefined || headers["x-many-0"] !== undefined;
  return {
    call,
    protocol: `${protocol}/${transport}`,
    token: token.name,
    shape: hugeHeaders ? `${shape}+huge-headers` : shape,
  };
}

function pickToken(rng: Rng, method: DescMethod, tokens: FuzzTokens): { name: string; header?: string } {
  const gateway = SERVICE_AUDIENCES.get(method.parent.typeName) === "data-plane";
  const [right, other] = gateway ? [tokens.dataPlane, tokens.admin] : [tokens.admin, tokens.dataPlane];
  const name = pick(rng, ["none", "wrong", "other", "right", "right", "odd"]);
  switch (name) {
    case "none":
      return { name };
    case "wrong":
      return { name, header: `Bearer ${right}x` };
    case "other":
      return { name, header: `Bearer ${other}` };
    case "right":
      return { name, header: `Bearer ${right}` };
    default:
      return { name, header: pick(rng, ODD_AUTHORIZATION) };
  }
}

/** A body that is wrong in one way: garbage, truncated, mistyped, badly framed, badly compressed, or too large. */
function fuzzBody(
  rng: Rng,
  method: DescMethod,
  how: { envelope: boolean; json: boolean; gzip: boolean },
): { body: Uint8Array; shape: string } {
  const limit = limitOf(method);
  const shape = pick(rng, [
    "empty",
    "random",
    "random",
    "truncated",
    "wrong-type",
    "wrong-type",
    "bad-frame",
    "compressed-flag",
    "gzip-garbage",
    "gzip-bomb",
    "many-messages",
    "near-limit",
    "over-limit",
  ]);
  const payload = (): Uint8Array => {
    switch (shape) {
      case "random":
        return bytes(rng, Math.floor(rng() * 2048));
      case "truncated": {
        const whole = wrongTypePayload(rng, method.input, how.json, false);
        return whole.subarray(0, Math.max(0, whole.length - 1 - Math.floor(rng() * whole.length)));
      }
      case "wrong-type":
        return wrongTypePayload(rng, method.input, how.json, true);
      case "near-limit":
        return new Uint8Array(limit - 64 - Math.floor(rng() * 64));
      case "over-limit":
        return new Uint8Array(limit + 1 + Math.floor(rng() * 1024));
      case "gzip-bomb":
        return gzipSync(new Uint8Array(limit + 1024 * 1024));
      default:
        return bytes(rng, Math.floor(rng() * 64));
    }
  };
  if (shape === "empty") return { body: new Uint8Array(), shape };
  const data = payload();
  if (!how.envelope) return { body: data, shape };
  const compressed = shape === "compressed-flag" || shape === "gzip-garbage" || shape === "gzip-bomb";
  if (shape === "gzip-garbage" || (how.gzip && rng() < 0.5)) return { body: frame(1, data), shape };
  if (shape === "bad-frame") return { body: badFrame(rng, data), shape };
  if (shape === "many-messages")
    return { body: Buffer.concat([frame(0, data), frame(0, data), frame(0, data)]), shape };
  return { body: frame(compressed ? 1 : 0, data), shape };
}

function frame(flags: number, data: Uint8Array, length = data.length): Uint8Array {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([head, data]);
}

function badFrame(rng: Rng, data: Uint8Array): Uint8Array {
  switch (Math.floor(rng() * 5)) {
    case 0:
      return frame(0, data, data.length + 1 + Math.floor(rng() * 100));
    case 1:
      return frame(0, data, 0xffffffff);
    case 2:
      return Buffer.concat([frame(0, data, Math.floor(data.length / 2)), Buffer.from([1, 2])]);
    case 3:
      return frame(pick(rng, [0x02, 0x80, 0x7f, 0xff]), data);
    default:
      return frame(0, data).subarray(0, 3);
  }
}

/**
 * A message of the method's input type with fields of the wrong type: a string where a number goes, a varint
 * where a string goes, an object for a scalar. `wrong` false gives the well-formed message (to truncate).
 */
function wrongTypePayload(rng: Rng, input: DescMessage, json: boolean, wrong: boolean): Uint8Array {
  const field = input.fields.length > 0 ? pick(rng, input.fields) : undefined;
  if (json) {
    const name = field?.jsonName ?? "nope";
    const value = wrong ? pick(rng, [123, "not-a-number", { a: [1] }, [null], true, 1e300, "\u0000"]) : "ok";
    return Buffer.from(JSON.stringify({ [name]: value }));
  }
  const number = field?.number ?? 1;
  // Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32; 6 and 7 do not exist.
  const wireType = wrong ? pick(rng, [0, 1, 2, 5, 6, 7]) : 2;
  const tag = Buffer.from([((number << 3) | wireType) & 0x7f, ...(number > 15 ? [number >> 4] : [])]);
  const value =
    wireType === 2
      ? Buffer.concat([Buffer.from([8]), Buffer.from(bytes(rng, 8))])
      : Buffer.from(bytes(rng, 9));
  return Buffer.concat([tag, value]);
}
