import { execFile } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneServer } from "../../src/control-plane/server.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  bearer,
  connectClient,
  grpcBidiStream,
  grpcJsClient,
  grpcServerStream,
  grpcUnary,
  streamOutcome,
} from "../support/grpc-clients.js";
import { createTestCertificates, SERVER_NAME, type TestCertificates } from "../support/test-certificates.js";
import { ADMIN_TOKEN, DATA_PLANE_TOKEN, tlsTestServer } from "../support/tls-control-plane.js";

/**
 * Kubelet gRPC probes cannot present client certificates: with TLS (and mTLS) on the main port, a second,
 * plaintext port answers grpc.health.v1 and /metrics, and nothing else.
 */

let certs: TestCertificates;
let server: ControlPlaneServer;
let healthAddress: string;
let healthUrl: string;
let ready = true;

beforeAll(async () => {
  certs = await createTestCertificates();
  server = tlsTestServer(certs, {
    mutual: true,
    readiness: () => ready,
    healthListen: { host: "127.0.0.1", port: 0 },
  });
  const bound = await server.listen();
  expect(bound.url).toMatch(/^https:/);
  expect(bound.health?.url).toBe(`http://127.0.0.1:${bound.health?.port}`);
  healthAddress = `127.0.0.1:${bound.health?.port}`;
  healthUrl = bound.health?.url ?? "";
});
afterAll(async () => {
  await server?.close();
  await certs?.remove();
});

describe("the plaintext health port", () => {
  it("answers grpc.health.v1 Check without TLS or a token, following readiness", async () => {
    const health = grpcJsClient("grpc.health.v1.Health", healthAddress);
    try {
      for (const service of ["", "switchyard.v1.AdminService", "switchyard.v1.GatewayService"]) {
        ready = true;
        expect((await grpcUnary(health, "Check", { service })).response).toEqual({ status: "SERVING" });
        ready = false;
        expect((await grpcUnary(health, "Check", { service })).response).toEqual({ status: "NOT_SERVING" });
      }
    } finally {
      ready = true;
      health.close();
    }
  });

  it("answers nothing else: AdminService, GatewayService and reflection are UNIMPLEMENTED even with tokens", async () => {
    const admin = grpcJsClient("switchyard.v1.AdminService", healthAddress);
    const gateway = grpcJsClient("switchyard.v1.GatewayService", healthAddress);
    const reflection = grpcJsClient("grpc.reflection.v1.ServerReflection", healthAddress);
    try {
      expect((await grpcUnary(admin, "GetSettings", {}, bearer(ADMIN_TOKEN))).code).toBe(
        grpc.status.UNIMPLEMENTED,
      );
      const authenticate = await grpcUnary(
        gateway,
        "Authenticate",
        { key_sha256: Buffer.alloc(32) },
        bearer(DATA_PLANE_TOKEN),
      );
      expect(authenticate.code).toBe(grpc.status.UNIMPLEMENTED);
      const call = grpcBidiStream(reflection, "ServerReflectionInfo");
      const outcome = streamOutcome(call);
      call.write({ list_services: "" });
      call.end();
      expect((await outcome).code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      admin.close();
      gateway.close();
      reflection.close();
    }
  });

  it("over HTTP/1.1 too: Connect health answers, Connect admin is Unimplemented, /metrics is served", async () => {
    const health = connectClient(Health, healthUrl, { protocol: "connect", httpVersion: "1.1" });
    const admin = connectClient(AdminService, healthUrl, {
      protocol: "connect",
      httpVersion: "1.1",
      token: ADMIN_TOKEN,
    });
    try {
      expect((await health.client.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const refused = await admin.client.getSettings({}).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({ code: Code.Unimplemented });
    } finally {
      health.close();
      admin.close();
    }
    const metrics = await curl([`${healthUrl}/metrics`]);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="grpc.health.v1.Health",grpc_method="Check"/,
    );
    const adminJson = await curl([
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-H",
      `authorization: Bearer ${ADMIN_TOKEN}`,
      "-d",
      "{}",
      `${healthUrl}/switchyard.v1.AdminService/GetSettings`,
    ]);
    expect(adminJson.status).toBe(404);
  });
});

describe("graceful shutdown with TLS", () => {
  it("closes idle TLS sessions, idle TLS keep-alives, unfinished handshakes and health watches within 2 s", async () => {
    const own = tlsTestServer(certs, {
      mutual: false,
      healthListen: { host: "127.0.0.1", port: 0 },
      tuning: { shutdownGraceMs: 8_000, healthWatchIntervalMs: 50 },
    });
    const bound = await own.listen();
    const ca = readFileSync(certs.caFile);
    const idleH2 = http2.connect(bound.url, { ca, servername: SERVER_NAME });
    idleH2.on("error", () => undefined);
    const idleH1 = tls.connect({
      port: bound.port,
      host: "127.0.0.1",
      ca,
      servername: SERVER_NAME,
      ALPNProtocols: ["http/1.1"],
    });
    const silent = net.connect(bound.port, "127.0.0.1");
    const health = grpcJsClient("grpc.health.v1.Health", `127.0.0.1:${bound.health?.port}`);
    const opened = Promise.all([
      once(idleH2, "connect"),
      once(idleH1, "secureConnect"),
      once(silent, "connect"),
    ]);
    const allClosed = Promise.all([once(idleH2, "close"), once(idleH1, "close"), once(silent, "close")]);
    try {
      await opened;
      expect(idleH1.alpnProtocol).toBe("http/1.1");
      const answered = new Promise((resolve) => idleH1.once("data", resolve));
      idleH1.write("GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n");
      expect(String(await answered)).toMatch(/^HTTP\/1\.1 200/);
      idleH1.resume();
      const watch = grpcServerStream(health, "Watch", { service: "" });
      const first = new Promise((resolve) => watch.once("data", resolve));
      const watchEnded = streamOutcome(watch);
      expect(await first).toEqual({ status: "SERVING" });

      const t0 = performance.now();
      await own.close();
      expect(performance.now() - t0).toBeLessThan(2_000);
      await allClosed;
      expect((await watchEnded).code).toBe(grpc.status.UNAVAILABLE);
      expect(await tryConnect(bound.port)).toBe("ECONNREFUSED");
      expect(await tryConnect(bound.health?.port ?? 0)).toBe("ECONNREFUSED");
    } finally {
      idleH2.destroy();
      idleH1.destroy();
      silent.destroy();
      health.close();
      await own.close();
    }
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

const run = promisify(execFile);

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-sS", "--max-time", "5", "-w", "\n%{http_code}", ...args]);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}
