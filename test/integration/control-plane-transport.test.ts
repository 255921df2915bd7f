import { execFile } from "node:child_process";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, type ControlPlaneDeps, type ControlPlaneServer } from "../../src/control-plane/server.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { AdminService, GetSettingsResponseSchema } from "../../src/gen/switchyard/v1/admin_pb.js";
import { AuthenticateResponseSchema, GatewayService } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { FailureSchema, GatewaySettingsSchema } from "../../src/gen/switchyard/v1/types_pb.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { createLogger } from "../../src/shared/logger.js";
import {
  bearer,
  type ConnectProtocol,
  connectClient,
  grpcBidiStream,
  grpcJsClient,
  grpcServerStream,
  grpcUnary,
  streamOutcome,
} from "../support/grpc-clients.js";

const ADMIN_TOKEN = "admin-token-for-transport-tests";
const DATA_PLANE_TOKEN = "data-plane-token-for-transport-tests";
const SETTINGS = create(GatewaySettingsSchema, {
  waitPingIntervalMs: 7_000,
  maxAccountSwitches: 4,
  streamIdleTimeoutMs: 90_000,
  streamKeepaliveIntervalMs: 12_000,
  clientGoneDrainMs: 30_000,
});

/** Log lines the server wrote, parsed. */
function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { lines, raw, log: createLogger({ destination, level: "debug" }) };
}

/** A server with a tiny real implementation of one method per service; everything else UNIMPLEMENTED. */
function testServer(
  overrides: Partial<ControlPlaneDeps> & { log: ControlPlaneDeps["log"] },
): ControlPlaneServer {
  return build({
    admin: {
      getSettings: () => create(GetSettingsResponseSchema, { settings: SETTINGS }),
      getUser: (req) => {
        throw new SwitchyardError(ErrorCode.NOT_FOUND, { message: `no user ${req.id}` });
      },
      deleteUser: () => {
        throw new Error("store connection reset by peer");
      },
    },
    gateway: {
      authenticate: (req) =>
        create(AuthenticateResponseSchema, {
          principal: { userId: `user-${req.keySha256.length}`, keyId: "key-1", groupId: "group-1" },
        }),
    },
    tokens: { admin: ADMIN_TOKEN, dataPlane: DATA_PLANE_TOKEN },
    readiness: () => true,
    registry: new Registry(),
    listen: { host: "127.0.0.1", port: 0 },
    ...overrides,
  });
}

const run = promisify(execFile);

/** Runs the real curl binary; returns the status code, HTTP version and body. */
async function curl(args: string[]): Promise<{ status: number; version: string; body: string }> {
  const { stdout } = await run("curl", [
    "-sS",
    "--max-time",
    "5",
    "-w",
    "\n%{http_code} %{http_version}",
    ...args,
  ]);
  const cut = stdout.lastIndexOf("\n");
  const [status, version] = stdout.slice(cut + 1).split(" ");
  return { status: Number(status), version: version ?? "", body: stdout.slice(0, cut) };
}

let server: ControlPlaneServer;
let url: string;
let address: string;
let ready = true;
const logs = logCapture();

beforeAll(async () => {
  server = testServer({ log: logs.log, readiness: () => ready, tuning: { healthWatchIntervalMs: 50 } });
  const bound = await server.listen();
  url = bound.url;
  address = `127.0.0.1:${bound.port}`;
  expect(url).toBe(`http://127.0.0.1:${bound.port}`);
  expect(bound.port).toBeGreaterThan(0);
});
afterAll(() => server.close());

const TOKENS = {
  none: undefined,
  wrong: "not-a-token",
  admin: ADMIN_TOKEN,
  "data-plane": DATA_PLANE_TOKEN,
} as const;
type TokenName = keyof typeof TOKENS;

/** The auth matrix: per service, what each token gets, on an implemented and an unimplemented method. */
const MATRIX: { service: "admin" | "gateway"; token: TokenName; implemented: string; other: string }[] = [
  { service: "admin", token: "none", implemented: "UNAUTHENTICATED", other: "UNAUTHENTICATED" },
  { service: "admin", token: "wrong", implemented: "UNAUTHENTICATED", other: "UNAUTHENTICATED" },
  { service: "admin", token: "data-plane", implemented: "PERMISSION_DENIED", other: "PERMISSION_DENIED" },
  { service: "admin", token: "admin", implemented: "OK", other: "UNIMPLEMENTED" },
  { service: "gateway", token: "none", implemented: "UNAUTHENTICATED", other: "UNAUTHENTICATED" },
  { service: "gateway", token: "wrong", implemented: "UNAUTHENTICATED", other: "UNAUTHENTICATED" },
  { service: "gateway", token: "admin", implemented: "PERMISSION_DENIED", other: "PERMISSION_DENIED" },
  { service: "gateway", token: "data-plane", implemented: "OK", other: "UNIMPLEMENTED" },
];

describe("token auth over gRPC with a stock grpc-js client", () => {
  it.each(MATRIX)("$service with $token token: $implemented, unimplemented method $other", async (row) => {
    const client = grpcJsClient(
      row.service === "admin" ? "switchyard.v1.AdminService" : "switchyard.v1.GatewayService",
      address,
    );
    try {
      const md = () => bearer(TOKENS[row.token]);
      const [implemented, other] =
        row.service === "admin"
          ? [await grpcUnary(client, "GetSettings", {}, md()), await grpcUnary(client, "ListUsers", {}, md())]
          : [
              await grpcUnary(client, "Authenticate", { key_sha256: Buffer.alloc(32) }, md()),
              await grpcUnary(client, "Admit", {}, md()),
            ];
      expect(grpc.status[implemented.code]).toBe(row.implemented);
      expect(grpc.status[other.code]).toBe(row.other);
      if (row.implemented === "OK") {
        expect(implemented.response).toMatchObject(
          row.service === "admin"
            ? { settings: { wait_ping_interval_ms: 7000, max_account_switches: 4 } }
            : { principal: { user_id: "user-32", key_id: "key-1", group_id: "group-1" } },
        );
      } else {
        expect(implemented.details).toMatch(/token/i);
      }
    } finally {
      client.close();
    }
  });

  it("checks streaming calls too: WatchSnapshot and the Channel bidi stream", async () => {
    const client = grpcJsClient("switchyard.v1.GatewayService", address);
    try {
      const watch = (token?: string) =>
        streamOutcome(grpcServerStream(client, "WatchSnapshot", {}, bearer(token)));
      const channel = async (token?: string) => {
        const call = grpcBidiStream(client, "Channel", bearer(token));
        const outcome = streamOutcome(call);
        call.write({ open: { instance_id: "dp-1" } });
        call.end();
        return await outcome;
      };
      expect((await watch()).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await watch(ADMIN_TOKEN)).code).toBe(grpc.status.PERMISSION_DENIED);
      expect((await watch(DATA_PLANE_TOKEN)).code).toBe(grpc.status.UNIMPLEMENTED);
      expect((await channel("nope")).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await channel(DATA_PLANE_TOKEN)).code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });
});

describe.each<[ConnectProtocol, "2" | "1.1"]>([
  ["grpc", "2"],
  ["connect", "2"],
  ["connect", "1.1"],
  ["grpc-web", "1.1"],
])("token auth with a Connect client (%s over HTTP/%s)", (protocol, httpVersion) => {
  const call = async (service: "admin" | "gateway", token: TokenName, implemented: boolean) => {
    const options = { protocol, httpVersion, token: TOKENS[token] };
    const admin = connectClient(AdminService, url, options);
    const gateway = connectClient(GatewayService, url, options);
    try {
      if (service === "admin") {
        return implemented ? await admin.client.getSettings({}) : await admin.client.listUsers({});
      }
      return implemented
        ? await gateway.client.authenticate({ keySha256: new Uint8Array(32) })
        : await gateway.client.admit({});
    } catch (err) {
      return ConnectError.from(err);
    } finally {
      admin.close();
      gateway.close();
    }
  };

  it.each(MATRIX)("$service with $token token: $implemented, unimplemented method $other", async (row) => {
    const implemented = await call(row.service, row.token, true);
    const other = await call(row.service, row.token, false);
    const codeOf = (r: unknown) => (r instanceof ConnectError ? r.code : -1);
    const expected = (name: string) =>
      ({ OK: -1, UNAUTHENTICATED: Code.Unauthenticated, PERMISSION_DENIED: Code.PermissionDenied })[name] ??
      Code.Unimplemented;
    expect(codeOf(implemented)).toBe(expected(row.implemented));
    expect(codeOf(other)).toBe(expected(row.other));
    if (implemented instanceof ConnectError) {
      // The error carries the Failure detail with the closed error code, for clients that map codes.
      const [failure] = implemented.findDetails(FailureSchema);
      expect(failure?.code).toBe(
        row.implemented === "UNAUTHENTICATED" ? ErrorCode.UNAUTHENTICATED : ErrorCode.PERMISSION_DENIED,
      );
    } else {
      expect(implemented).toMatchObject(
        row.service === "admin"
          ? { settings: { maxAccountSwitches: 4 } }
          : { principal: { userId: "user-32" } },
      );
    }
  });
});

describe("errors from implementations", () => {
  it("send a thrown SwitchyardError with its code and Failure detail, and hide unexpected errors", async () => {
    const { client, close } = connectClient(AdminService, url, { protocol: "grpc", token: ADMIN_TOKEN });
    const before = logs.lines.length;
    try {
      const notFound = await client.getUser({ id: "u1" }).catch((e: unknown) => ConnectError.from(e));
      expect(notFound).toBeInstanceOf(ConnectError);
      expect(notFound).toMatchObject({ code: Code.NotFound, rawMessage: "no user u1" });
      expect((notFound as ConnectError).findDetails(FailureSchema)[0]?.code).toBe(ErrorCode.NOT_FOUND);

      const internal = await client.deleteUser({ id: "u1" }).catch((e: unknown) => ConnectError.from(e));
      expect(internal).toMatchObject({ code: Code.Internal, rawMessage: "Internal server error" });
    } finally {
      close();
    }
    // The operator still sees what went wrong.
    expect(logs.lines.slice(before)).toContainEqual(
      expect.objectContaining({
        msg: "rpc failed",
        procedure: "/switchyard.v1.AdminService/DeleteUser",
        code: "Internal",
        error: "store connection reset by peer",
      }),
    );
  });
});

describe("logging", () => {
  it("writes one line per failed RPC with procedure, code and duration (a caller's fault at debug), never the token", async () => {
    const client = grpcJsClient("switchyard.v1.AdminService", address);
    const before = logs.lines.length;
    try {
      const outcome = await grpcUnary(client, "GetSettings", {}, bearer(`${DATA_PLANE_TOKEN}-wrong`));
      expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
    const failed = logs.lines.slice(before).filter((l) => l.msg === "rpc failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      level: "debug",
      procedure: "/switchyard.v1.AdminService/GetSettings",
      code: "Unauthenticated",
    });
    expect(typeof failed[0]?.durationMs).toBe("number");
    expect(logs.raw.join("\n")).not.toContain(DATA_PLANE_TOKEN);
    expect(logs.raw.join("\n")).not.toContain(ADMIN_TOKEN);
  });
});

describe("grpc.health.v1.Health (grpc-js)", () => {
  it("answers SERVING or NOT_SERVING as the readiness callback says, for the server and each service", async () => {
    const client = grpcJsClient("grpc.health.v1.Health", address);
    try {
      for (const service of ["", "switchyard.v1.AdminService", "switchyard.v1.GatewayService"]) {
        ready = true;
        expect((await grpcUnary(client, "Check", { service })).response).toEqual({ status: "SERVING" });
        ready = false;
        expect((await grpcUnary(client, "Check", { service })).response).toEqual({ status: "NOT_SERVING" });
      }
    } finally {
      ready = true;
      client.close();
    }
  });

  it("answers NOT_FOUND for an unknown service", async () => {
    const client = grpcJsClient("grpc.health.v1.Health", address);
    try {
      const outcome = await grpcUnary(client, "Check", { service: "switchyard.v1.NoSuchService" });
      expect(outcome.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it("streams the current status on Watch, then each change", async () => {
    const client = grpcJsClient("grpc.health.v1.Health", address);
    const call = grpcServerStream(client, "Watch", { service: "" });
    const seen: unknown[] = [];
    call.on("data", (m: unknown) => seen.push(m));
    const ended = streamOutcome(call);
    try {
      await expect.poll(() => seen).toEqual([{ status: "SERVING" }]);
      ready = false;
      await expect.poll(() => seen).toEqual([{ status: "SERVING" }, { status: "NOT_SERVING" }]);
      ready = true;
      await expect.poll(() => seen.length).toBe(3);
      expect(seen[2]).toEqual({ status: "SERVING" });
    } finally {
      ready = true;
      call.cancel();
      expect((await ended).code).toBe(grpc.status.CANCELLED);
      client.close();
    }
  });
});

describe("grpc.reflection.v1.ServerReflection (grpc-js)", () => {
  type ReflectionResponse = {
    message_response: string;
    list_services_response?: { service: { name: string }[] };
    file_descriptor_response?: { file_descriptor_proto: Buffer[] };
    error_response?: { error_code: number };
  };
  const reflect = async (requests: object[]): Promise<ReflectionResponse[]> => {
    const client = grpcJsClient("grpc.reflection.v1.ServerReflection", address);
    try {
      const call = grpcBidiStream(client, "ServerReflectionInfo");
      const outcome = streamOutcome<ReflectionResponse>(call);
      for (const r of requests) call.write(r);
      call.end();
      const { code, messages } = await outcome;
      expect(code).toBe(grpc.status.OK);
      return messages;
    } finally {
      client.close();
    }
  };
  const files = (r: ReflectionResponse | undefined) =>
    (r?.file_descriptor_response?.file_descriptor_proto ?? []).map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );

  it("lists every served service", async () => {
    const [list] = await reflect([{ list_services: "" }]);
    expect(list?.list_services_response?.service.map((s) => s.name)).toEqual([
      "switchyard.v1.AdminService",
      "switchyard.v1.GatewayService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
    ]);
  });

  it("returns the file declaring a symbol with its dependencies, and NOT_FOUND for unknown symbols", async () => {
    const [gateway, admin, method, byName, unknown] = await reflect([
      { file_containing_symbol: "switchyard.v1.GatewayService" },
      { file_containing_symbol: "switchyard.v1.AdminService" },
      { file_containing_symbol: "switchyard.v1.GatewayService.Admit" },
      { file_by_filename: "grpc/health/v1/health.proto" },
      { file_containing_symbol: "switchyard.v1.NoSuchThing" },
    ]);
    const gatewayFiles = files(gateway);
    expect(gatewayFiles[0]?.name).toBe("switchyard/v1/gateway.proto");
    expect(gatewayFiles[0]?.service.map((s) => s.name)).toContain("GatewayService");
    expect(gatewayFiles.map((f) => f.name)).toContain("switchyard/v1/types.proto");
    expect(files(admin).map((f) => f.name)).toEqual(
      expect.arrayContaining(["switchyard/v1/admin.proto", "google/protobuf/timestamp.proto"]),
    );
    expect(files(method)[0]?.name).toBe("switchyard/v1/gateway.proto");
    expect(files(byName)[0]?.service.map((s) => s.name)).toEqual(["Health"]);
    expect(unknown?.message_response).toBe("error_response");
    expect(unknown?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("one port for HTTP/2 (prior knowledge) and HTTP/1.1, with curl", () => {
  const settingsPath = "/switchyard.v1.AdminService/GetSettings";
  it.each([
    ["--http2-prior-knowledge", "2"],
    ["--http1.1", "1.1"],
  ])("curl %s reaches a Connect JSON endpoint and /metrics", async (flag, version) => {
    const rpc = await curl([
      flag,
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-H",
      `authorization: Bearer ${ADMIN_TOKEN}`,
      "-d",
      "{}",
      `${url}${settingsPath}`,
    ]);
    expect(rpc).toMatchObject({ status: 200, version });
    expect(JSON.parse(rpc.body)).toEqual({
      settings: {
        waitPingIntervalMs: 7000,
        maxAccountSwitches: 4,
        streamIdleTimeoutMs: 90000,
        streamKeepaliveIntervalMs: 12000,
        clientGoneDrainMs: 30000,
      },
    });
    const denied = await curl([
      flag,
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-d",
      "{}",
      `${url}${settingsPath}`,
    ]);
    expect(denied.status).toBe(401);
    expect(JSON.parse(denied.body)).toMatchObject({ code: "unauthenticated" });

    const metrics = await curl([flag, `${url}/metrics`]);
    expect(metrics).toMatchObject({ status: 200, version });
    expect(metrics.body).toContain("# TYPE grpc_server_handled_total counter");
    expect(metrics.body).toMatch(
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="switchyard.v1.AdminService",grpc_method="GetSettings",grpc_code="OK"\} \d+/,
    );
    expect(await curl([flag, `${url}/no/such/path`])).toMatchObject({ status: 404, version });
  });
});

/** What a fresh TCP connection to the port gets: "connected", or the error code (ECONNREFUSED). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
  });
}

/** A server whose GetSettings takes 300 ms and reports when it starts, with a grace period close() must not need. */
function slowServer(): { server: ControlPlaneServer; unaryStarted: Promise<void> } {
  let started: () => void = () => undefined;
  const unaryStarted = new Promise<void>((resolve) => {
    started = resolve;
  });
  const server = testServer({
    log: createLogger({ level: "silent" }),
    // Long enough that a close() relying on the grace period would fail the timings below.
    tuning: { shutdownGraceMs: 8_000 },
    admin: {
      getSettings: async () => {
        started();
        await sleep(300);
        return create(GetSettingsResponseSchema, { settings: SETTINGS });
      },
    },
  });
  return { server, unaryStarted };
}

describe("graceful shutdown", () => {
  it("ends streams, lets in-flight unary calls finish, closes idle HTTP/2 sessions, then refuses connections", async () => {
    const { server: own, unaryStarted } = slowServer();
    const bound = await own.listen();
    const target = `127.0.0.1:${bound.port}`;
    const health = grpcJsClient("grpc.health.v1.Health", target);
    const admin = grpcJsClient("switchyard.v1.AdminService", target);
    const idle = http2.connect(bound.url);
    const idleConnected = new Promise((resolve) => idle.once("connect", resolve));
    try {
      const watch = grpcServerStream(health, "Watch", { service: "" });
      const first = new Promise((resolve) => watch.once("data", resolve));
      const watchEnded = streamOutcome(watch);
      expect(await first).toEqual({ status: "SERVING" });
      await idleConnected;
      const idleClosed = new Promise((resolve) => idle.once("close", resolve));
      const unary = grpcUnary(admin, "GetSettings", {}, bearer(ADMIN_TOKEN));
      await unaryStarted;

      const t0 = performance.now();
      await own.close();
      const elapsed = performance.now() - t0;

      expect(elapsed).toBeLessThan(2_000);
      const finished = await unary;
      expect(finished.code).toBe(grpc.status.OK);
      expect(finished.response).toMatchObject({ settings: { max_account_switches: 4 } });
      expect(await watchEnded).toMatchObject({
        code: grpc.status.UNAVAILABLE,
        details: "Server is shutting down",
      });
      await idleClosed;
      expect(idle.closed).toBe(true);
      expect(await tryConnect(bound.port)).toBe("ECONNREFUSED");
    } finally {
      idle.destroy();
      health.close();
      admin.close();
      await own.close();
    }
  });
  it("does the same on HTTP/1.1: ends a gRPC-Web stream, finishes a Connect call, drops idle keep-alives", async () => {
    const { server: own, unaryStarted } = slowServer();
    const bound = await own.listen();
    const web = connectClient(Health, bound.url, { protocol: "grpc-web", httpVersion: "1.1" });
    const connect = connectClient(AdminService, bound.url, {
      protocol: "connect",
      httpVersion: "1.1",
      token: ADMIN_TOKEN,
    });
    const keepAlive = net.connect(bound.port, "127.0.0.1");
    try {
      const seen: HealthCheckResponse_ServingStatus[] = [];
      const watchEnded = (async () => {
        try {
          for await (const m of web.client.watch({ service: "" })) seen.push(m.status);
          return "OK";
        } catch (err) {
          return Code[ConnectError.from(err).code];
        }
      })();
      await expect.poll(() => seen).toEqual([HealthCheckResponse_ServingStatus.SERVING]);
      // An idle HTTP/1.1 keep-alive connection: one finished request, then nothing.
      const answered = new Promise((resolve) => keepAlive.once("data", resolve));
      const keepAliveClosed = new Promise((resolve) => keepAlive.once("close", resolve));
      keepAlive.write("GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n");
      expect(String(await answered)).toMatch(/^HTTP\/1\.1 200/);
      keepAlive.resume();
      const unary = connect.client.getSettings({});
      await unaryStarted;

      const t0 = performance.now();
      await own.close();
      expect(performance.now() - t0).toBeLessThan(2_000);

      expect((await unary).settings?.maxAccountSwitches).toBe(4);
      expect(await watchEnded).toBe("Unavailable");
      await keepAliveClosed;
      expect(await tryConnect(bound.port)).toBe("ECONNREFUSED");
    } finally {
      keepAlive.destroy();
      web.close();
      connect.close();
      await own.close();
    }
  });
  it("destroys connections still busy when the grace period ends", async () => {
    let hang: (() => void) | undefined;
    const own = testServer({
      log: createLogger({ level: "silent" }),
      tuning: { shutdownGraceMs: 300 },
      admin: {
        getSettings: () =>
          new Promise((resolve) => {
            hang = () => resolve(create(GetSettingsResponseSchema, {}));
          }),
      },
    });
    const bound = await own.listen();
    const admin = grpcJsClient("switchyard.v1.AdminService", `127.0.0.1:${bound.port}`);
    try {
      const stuck = grpcUnary(admin, "GetSettings", {}, bearer(ADMIN_TOKEN));
      await expect.poll(() => hang).toBeTypeOf("function");
      const t0 = performance.now();
      await own.close();
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(1_500);
      expect((await stuck).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      hang?.();
      admin.close();
    }
  });
});

describe("HTTP/2 keepalive", () => {
  it("destroys a session whose peer stops answering pings, and keeps one that answers", async () => {
    const own = testServer({
      log: createLogger({ level: "silent" }),
      tuning: { keepaliveIntervalMs: 100, keepaliveTimeoutMs: 200 },
    });
    const bound = await own.listen();
    const live = http2.connect(bound.url);
    const frozen = net.connect(bound.port, "127.0.0.1");
    try {
      await new Promise((resolve) => frozen.once("connect", resolve));
      const frozenClosed = new Promise((resolve) => frozen.once("close", resolve));
      frozen.resume();
      // The connection preface and an empty SETTINGS frame, then silence: pings are never acknowledged.
      frozen.write(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"));
      frozen.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      const t0 = performance.now();
      await frozenClosed;
      expect(performance.now() - t0).toBeLessThan(1_500);

      await sleep(600 - Math.min(600, performance.now() - t0));
      expect(live.closed || live.destroyed).toBe(false);
      const req = live.request({ ":path": "/metrics" });
      const status = await new Promise((resolve) => req.once("response", (h) => resolve(h[":status"])));
      req.resume();
      expect(status).toBe(200);
    } finally {
      frozen.destroy();
      live.destroy();
      await own.close();
    }
  });
});
