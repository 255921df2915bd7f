import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, type ControlPlaneServer } from "../../src/control-plane/server.js";
import { HealthCheckRequestSchema } from "../../src/gen/grpc/health/v1/health_pb.js";
import { CreateUserResponseSchema, GetSettingsResponseSchema } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  AuthenticateResponseSchema,
  WatchSnapshotResponseSchema,
} from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";
import {
  ADMIN_READ_MAX_BYTES,
  GATEWAY_READ_MAX_BYTES,
  OPEN_READ_MAX_BYTES,
} from "../../src/shared/rpc-limits.js";
import { type RawCall, RawRpcClient, type RawTransport } from "../support/raw-rpc-client.js";
import { readVerdict } from "../support/rpc-verdict.js";

/**
 * Malformed requests with a valid token are the caller's fault: INVALID_ARGUMENT (or RESOURCE_EXHAUSTED past the
 * read limit), never INTERNAL, UNKNOWN or HTTP 5xx, in every protocol and HTTP version. connect-es 2.1 itself
 * answers undecodable protobuf, a compressed flag without an encoding and a truncated gzip body with INTERNAL.
 */

const ADMIN_TOKEN = "admin-token-for-malformed-tests";
const DATA_PLANE_TOKEN = "data-plane-token-for-malformed-tests";
const CREATE_USER = "/switchyard.v1.AdminService/CreateUser";
const WATCH_SNAPSHOT = "/switchyard.v1.GatewayService/WatchSnapshot";

let server: ControlPlaneServer;
let client: RawRpcClient;
const registry = new Registry();
beforeAll(async () => {
  server = build({
    admin: {
      createUser: () => create(CreateUserResponseSchema, {}),
      getSettings: () => create(GetSettingsResponseSchema, {}),
    },
    gateway: {
      authenticate: () => create(AuthenticateResponseSchema, {}),
      async *watchSnapshot() {
        yield create(WatchSnapshotResponseSchema, {});
      },
    },
    tokens: { admin: ADMIN_TOKEN, dataPlane: DATA_PLANE_TOKEN },
    readiness: () => true,
    registry,
    log: createLogger({ level: "silent" }),
    listen: { host: "127.0.0.1", port: 0 },
  });
  client = new RawRpcClient((await server.listen()).url);
});
afterAll(async () => {
  client.close();
  await server.close();
});

/** A length-prefixed message: flags, a big-endian length (the real one unless given), the bytes. */
function envelope(data: Uint8Array, flags = 0, length = data.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, data]);
}

const BAD_PROTOBUF = {
  "a length past the end": Buffer.from([0x0a, 0x05, 0x61]),
  "wire type 7": Buffer.from([0x0f, 0x01]),
  "field number 0": Buffer.from([0x00, 0x01]),
};

/** Every way a streaming protocol's body can be malformed; `encoding` is the grpc-encoding / connect header. */
const BAD_ENVELOPES: Record<string, { body: Buffer; encoding?: string }> = {
  ...Object.fromEntries(
    Object.entries(BAD_PROTOBUF).map(([name, bytes]) => [name, { body: envelope(bytes) }]),
  ),
  "a frame shorter than its length": { body: envelope(Buffer.from([0x0a]), 0, 10) },
  "a compressed flag without an encoding": { body: envelope(Buffer.from([0x0a, 0x00]), 1) },
  "gzip that is not gzip": { body: envelope(Buffer.from("not gzip"), 1), encoding: "gzip" },
  "truncated gzip": {
    body: envelope(gzipSync(Buffer.from([0x0a, 0x01, 0x61])).subarray(0, 12), 1),
    encoding: "gzip",
  },
  "gzip of bad protobuf": { body: envelope(gzipSync(BAD_PROTOBUF["wire type 7"]), 1), encoding: "gzip" },
};

const STREAMING_PROTOCOLS: {
  name: string;
  transport: RawTransport;
  contentType: string;
  encodingHeader: string;
}[] = [
  { name: "gRPC (h2c)", transport: "h2c", contentType: "application/grpc", encodingHeader: "grpc-encoding" },
  {
    name: "gRPC-Web (h2c)",
    transport: "h2c",
    contentType: "application/grpc-web+proto",
    encodingHeader: "grpc-encoding",
  },
  {
    name: "gRPC-Web (HTTP/1.1)",
    transport: "http/1.1",
    contentType: "application/grpc-web+proto",
    encodingHeader: "grpc-encoding",
  },
];

function call(
  transport: RawTransport,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): RawCall {
  const token = path.includes("GatewayService") ? DATA_PLANE_TOKEN : ADMIN_TOKEN;
  return {
    transport,
    method: "POST",
    path,
    headers: { authorization: `Bearer ${token}`, te: "trailers", ...headers },
    body,
  };
}

describe.each(STREAMING_PROTOCOLS)("$name with a valid token", (p) => {
  it.each(Object.entries(BAD_ENVELOPES))(
    "answers INVALID_ARGUMENT to %s, unary and streaming",
    async (_, bad) => {
      const headers = {
        "content-type": p.contentType,
        ...(bad.encoding ? { [p.encodingHeader]: bad.encoding } : {}),
      };
      for (const path of [CREATE_USER, WATCH_SNAPSHOT]) {
        const transport = p.transport === "http/1.1" ? "http/1.1" : "h2c";
        const verdict = readVerdict(await client.send(call(transport, path, headers, bad.body)));
        expect(verdict, path).toMatchObject({ httpStatus: 200, grpcStatus: 3 });
      }
    },
  );
});

describe.each<RawTransport>(["h2c", "http/1.1"])("Connect over %s with a valid token", (transport) => {
  const connectStream = (bad: { body: Buffer; encoding?: string }) =>
    call(
      transport,
      WATCH_SNAPSHOT,
      {
        "content-type": "application/connect+proto",
        ...(bad.encoding ? { "connect-content-encoding": bad.encoding } : {}),
      },
      bad.body,
    );

  it.each(Object.entries(BAD_PROTOBUF))(
    "answers a unary call INVALID_ARGUMENT (HTTP 400) for protobuf with %s",
    async (_, bytes) => {
      const verdict = readVerdict(
        await client.send(call(transport, CREATE_USER, { "content-type": "application/proto" }, bytes)),
      );
      expect(verdict).toMatchObject({ httpStatus: 400, connectCode: "invalid_argument" });
    },
  );

  it.each([
    ["JSON that does not parse", "{not json"],
    ["a number for a string field", '{"name": 5}'],
    ["an array for the message", "[]"],
    ["an object for a scalar", '{"concurrency": {"a": 1}}'],
  ])("answers a unary call INVALID_ARGUMENT (HTTP 400) for %s", async (_, json) => {
    const verdict = readVerdict(
      await client.send(
        call(transport, CREATE_USER, { "content-type": "application/json" }, Buffer.from(json)),
      ),
    );
    expect(verdict).toMatchObject({ httpStatus: 400, connectCode: "invalid_argument" });
  });

  it("answers a unary call INVALID_ARGUMENT for a gzip body that does not decompress", async () => {
    const headers = { "content-type": "application/proto", "content-encoding": "gzip" };
    const truncated = gzipSync(Buffer.from([0x0a, 0x01, 0x61])).subarray(0, 12);
    const verdict = readVerdict(await client.send(call(transport, CREATE_USER, headers, truncated)));
    expect(verdict).toMatchObject({ httpStatus: 400, connectCode: "invalid_argument" });
  });

  it.each(Object.entries(BAD_ENVELOPES))("answers a stream INVALID_ARGUMENT for %s", async (_, bad) => {
    const verdict = readVerdict(await client.send(connectStream(bad)));
    expect(verdict).toMatchObject({ httpStatus: 200, connectCode: "invalid_argument" });
  });
});

describe("read limits per service", () => {
  /** A HealthCheckRequest whose encoding is exactly `size` bytes (a 1-byte tag and a 3-byte length, then text). */
  const healthCheckOfSize = (size: number) =>
    toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "s".repeat(size - 4) }));

  it("reads a message of exactly the limit and refuses one byte more with RESOURCE_EXHAUSTED", async () => {
    const check = (body: Uint8Array) =>
      client.send(
        call("h2c", "/grpc.health.v1.Health/Check", { "content-type": "application/grpc" }, envelope(body)),
      );
    expect(healthCheckOfSize(OPEN_READ_MAX_BYTES).length).toBe(OPEN_READ_MAX_BYTES);
    // Read and parsed: the service name is unknown.
    expect(readVerdict(await check(healthCheckOfSize(OPEN_READ_MAX_BYTES)))).toMatchObject({ grpcStatus: 5 });
    expect(readVerdict(await check(healthCheckOfSize(OPEN_READ_MAX_BYTES + 1)))).toMatchObject({
      grpcStatus: 8,
    });
  });

  it.each([
    ["AdminService", CREATE_USER, ADMIN_READ_MAX_BYTES],
    ["GatewayService", "/switchyard.v1.GatewayService/Authenticate", GATEWAY_READ_MAX_BYTES],
  ])("%s refuses a message over its limit, over gRPC and Connect", async (_, path, limit) => {
    const over = new Uint8Array(limit + 1);
    const grpcAnswer = await client.send(
      call("h2c", path, { "content-type": "application/grpc" }, envelope(over, 0, over.length)),
    );
    expect(readVerdict(grpcAnswer)).toMatchObject({ grpcStatus: 8 });
    const connectAnswer = await client.send(
      call("http/1.1", path, { "content-type": "application/proto" }, over),
    );
    expect(readVerdict(connectAnswer)).toMatchObject({ httpStatus: 429, connectCode: "resource_exhausted" });
  });

  it("lets the gateway read a message over the admin limit", async () => {
    const message = new Uint8Array(ADMIN_READ_MAX_BYTES + 1024);
    // Zeros do not parse, so the message was read: INVALID_ARGUMENT, not RESOURCE_EXHAUSTED.
    const answer = await client.send(
      call(
        "h2c",
        "/switchyard.v1.GatewayService/Authenticate",
        { "content-type": "application/grpc" },
        envelope(message),
      ),
    );
    expect(readVerdict(answer)).toMatchObject({ grpcStatus: 3 });
  });
});

describe("requests no client library sends", () => {
  it("answers an HTTP/1.0 request without a Host header with INVALID_ARGUMENT instead of failing the process", async () => {
    const raw = Buffer.from(
      `POST ${CREATE_USER} HTTP/1.0\r\ncontent-type: application/json\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-length: 2\r\n\r\n{}`,
    );
    const answer = await client.send({
      transport: "socket",
      method: "",
      path: "",
      headers: {},
      body: new Uint8Array(),
      raw,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).toContain('"code":"invalid_argument"');
    // Still serving.
    const next = await client.send(
      call("h2c", CREATE_USER, { "content-type": "application/json" }, Buffer.from("{}")),
    );
    expect(next.status).toBe(200);
  });

  it("ends HEAD answers over HTTP/2 when the request has a body, on RPC and other paths", async () => {
    for (const [path, status] of [
      ["/metrics", 200],
      ["/no/such/path", 404],
      [CREATE_USER, 405],
    ] as const) {
      const head: RawCall = {
        ...call("h2c", path, { "content-type": "application/json" }, new Uint8Array(200_000)),
        method: "HEAD",
      };
      const answer = await client.send(head);
      expect({ path, status: answer.status, error: answer.error }).toEqual({
        path,
        status,
        error: undefined,
      });
    }
  });

  it("answers a bidirectional stream over HTTP/1.1 with UNIMPLEMENTED in its protocol, not HTTP 505", async () => {
    const reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    const answer = await client.send(
      call(
        "http/1.1",
        reflection,
        { "content-type": "application/grpc-web+proto" },
        envelope(new Uint8Array()),
      ),
    );
    expect(readVerdict(answer)).toMatchObject({ httpStatus: 200, grpcStatus: 12 });
    expect(answer.headers.connection).toBe("close");
  });

  it("counts an undecodable stream message as INVALID_ARGUMENT in the RPC metrics", async () => {
    const counted = async (code: string) => {
      const line = (await registry.metrics())
        .split("\n")
        .find((l) =>
          l.startsWith(
            `grpc_server_handled_total{grpc_type="server_stream",grpc_service="switchyard.v1.GatewayService",grpc_method="WatchSnapshot",grpc_code="${code}"}`,
          ),
        );
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const [invalid, internal] = [await counted("InvalidArgument"), await counted("Internal")];
    const bad = envelope(BAD_PROTOBUF["wire type 7"]);
    await client.send(call("h2c", WATCH_SNAPSHOT, { "content-type": "application/grpc" }, bad));
    expect(await counted("InvalidArgument")).toBe(invalid + 1);
    expect(await counted("Internal")).toBe(internal);
  });
});
