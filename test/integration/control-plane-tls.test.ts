import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneServer } from "../../src/control-plane/server.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { GatewayService } from "../../src/gen/switchyard/v1/gateway_pb.js";
import type { ControlPlaneClientTls } from "../../src/shared/config.js";
import { connectControlPlane } from "../../src/shared/control-plane-transport.js";
import {
  bearer,
  type ConnectProtocol,
  connectClient,
  grpcJsClient,
  grpcUnary,
} from "../support/grpc-clients.js";
import { createTestCertificates, SERVER_NAME, type TestCertificates } from "../support/test-certificates.js";
import {
  ADMIN_TOKEN,
  clientSettings,
  DATA_PLANE_TOKEN,
  errorCodes,
  stockClientTls,
  tlsTestServer,
} from "../support/tls-control-plane.js";

let certs: TestCertificates;
let tlsServer: ControlPlaneServer;
let mtlsServer: ControlPlaneServer;
let tlsPort: number;
let mtlsPort: number;

beforeAll(async () => {
  certs = await createTestCertificates();
  tlsServer = tlsTestServer(certs, { mutual: false });
  mtlsServer = tlsTestServer(certs, { mutual: true });
  const [tls, mtls] = await Promise.all([tlsServer.listen(), mtlsServer.listen()]);
  expect(tls.url).toBe(`https://127.0.0.1:${tls.port}`);
  tlsPort = tls.port;
  mtlsPort = mtls.port;
});
afterAll(async () => {
  await Promise.all([tlsServer?.close(), mtlsServer?.close()]);
  await certs?.remove();
});

/** GetSettings through the shared client factory, dialling 127.0.0.1: its max_account_switches, or the error. */
async function settingsVia(
  port: number,
  options: { tls?: ControlPlaneClientTls; serverName?: string; token?: string; plaintext?: boolean },
): Promise<number | ConnectError> {
  const connection = connectControlPlane(
    { host: "127.0.0.1", port, tls: options.plaintext !== true },
    {
      token: options.token ?? ADMIN_TOKEN,
      tls: options.tls ?? clientSettings(certs),
      serverName: options.serverName ?? SERVER_NAME,
      defaultTimeoutMs: 5_000,
    },
  );
  try {
    const answer = await createClient(AdminService, connection.transport).getSettings({});
    return answer.settings?.maxAccountSwitches ?? -1;
  } catch (err) {
    return ConnectError.from(err);
  } finally {
    connection.close();
  }
}

const sslCredentials = (withClientCert: boolean) =>
  grpc.credentials.createSsl(
    readFileSync(certs.caFile),
    withClientCert ? readFileSync(certs.clientKeyFile) : null,
    withClientCert ? readFileSync(certs.clientCertFile) : null,
  );
const nameOverride = { "grpc.ssl_target_name_override": SERVER_NAME, "grpc.default_authority": SERVER_NAME };

describe("a TLS port", () => {
  it("answers the shared client factory, which checks the certificate against the Service name, not the IP", async () => {
    expect(await settingsVia(tlsPort, {})).toBe(4);
    // The certificate also lists 127.0.0.1: verifying against the address dialled works when that is the name.
    expect(await settingsVia(tlsPort, { serverName: "127.0.0.1" })).toBe(4);
    // The token still goes with every call: a wrong one is refused by the server, over the same TLS.
    const refused = await settingsVia(tlsPort, { token: "not-a-token" });
    expect(refused).toMatchObject({ code: Code.Unauthenticated });
  });

  it("answers a stock grpc-js client (TLS, name override) and refuses a call without a token", async () => {
    const admin = grpcJsClient(
      "switchyard.v1.AdminService",
      `127.0.0.1:${tlsPort}`,
      sslCredentials(false),
      nameOverride,
    );
    const health = grpcJsClient(
      "grpc.health.v1.Health",
      `127.0.0.1:${tlsPort}`,
      sslCredentials(false),
      nameOverride,
    );
    try {
      const ok = await grpcUnary(admin, "GetSettings", {}, bearer(ADMIN_TOKEN));
      expect(ok).toMatchObject({ code: grpc.status.OK, response: { settings: { max_account_switches: 4 } } });
      expect((await grpcUnary(admin, "GetSettings", {})).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await grpcUnary(health, "Check", { service: "" })).response).toEqual({ status: "SERVING" });
    } finally {
      admin.close();
      health.close();
    }
  });

  it.each<[ConnectProtocol, "2" | "1.1"]>([
    ["grpc", "2"],
    ["connect", "2"],
    ["connect", "1.1"],
    ["grpc-web", "2"],
    ["grpc-web", "1.1"],
  ])("serves %s over HTTP/%s, with the token gate in front", async (protocol, httpVersion) => {
    const url = `https://127.0.0.1:${tlsPort}`;
    const tls = stockClientTls(certs, false);
    const admin = connectClient(AdminService, url, { protocol, httpVersion, token: ADMIN_TOKEN, tls });
    const anonymous = connectClient(GatewayService, url, { protocol, httpVersion, tls });
    try {
      expect((await admin.client.getSettings({})).settings?.maxAccountSwitches).toBe(4);
      const refused = await anonymous.client
        .authenticate({ keySha256: new Uint8Array(32) })
        .catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({ code: Code.Unauthenticated });
    } finally {
      admin.close();
      anonymous.close();
    }
  });

  it.each([
    ["--http2", "2"],
    ["--http1.1", "1.1"],
  ])("lets curl %s pick its HTTP version by ALPN, for Connect JSON and /metrics", async (flag, version) => {
    const base = [flag, "--cacert", certs.caFile, "--resolve", `${SERVER_NAME}:${tlsPort}:127.0.0.1`];
    const url = `https://${SERVER_NAME}:${tlsPort}`;
    const rpc = await curl([
      ...base,
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-H",
      `authorization: Bearer ${DATA_PLANE_TOKEN}`,
      "-d",
      "{}",
      `${url}/switchyard.v1.GatewayService/Authenticate`,
    ]);
    expect(rpc).toMatchObject({ status: 200, version });
    expect(JSON.parse(rpc.body)).toEqual({ principal: { userId: "user-1", keyId: "key-1" } });
    expect(await curl([...base, `${url}/metrics`])).toMatchObject({ status: 200, version });
  });

  it("answers a call without a token before its body arrives, over TLS too", async () => {
    const session = http2.connect(`https://127.0.0.1:${tlsPort}`, {
      ca: readFileSync(certs.caFile),
      servername: SERVER_NAME,
    });
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/switchyard.v1.AdminService/GetSettings",
        "content-type": "application/grpc",
        te: "trailers",
      });
      // Headers only: the body never comes.
      const status = await new Promise((resolve) =>
        stream.once("response", (h) => resolve(h["grpc-status"])),
      );
      expect(status).toBe(String(grpc.status.UNAUTHENTICATED));
      stream.close();
    } finally {
      session.destroy();
    }
  });

  it("refuses clients that trust another CA or expect another name, and keeps serving the others", async () => {
    const otherCa = await settingsVia(tlsPort, { tls: clientSettings(certs, { caFile: certs.otherCaFile }) });
    expect(otherCa).toBeInstanceOf(ConnectError);
    expect(errorCodes(otherCa)).toContain("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    const otherName = await settingsVia(tlsPort, { serverName: "intruder.switchyard.test" });
    expect(errorCodes(otherName)).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    // The address dialled is not what is checked: 127.0.0.2 is not in the certificate.
    expect(errorCodes(await settingsVia(tlsPort, { serverName: "127.0.0.2" }))).toContain(
      "ERR_TLS_CERT_ALTNAME_INVALID",
    );
    expect(await settingsVia(tlsPort, {})).toBe(4);
  });

  it("does not answer plaintext HTTP/2 (h2c)", async () => {
    const answer = await settingsVia(tlsPort, { plaintext: true });
    expect(answer).toBeInstanceOf(ConnectError);
    expect(await settingsVia(tlsPort, {})).toBe(4);
  });
});

describe("mTLS: client certificates and tokens", () => {
  it("refuses the handshake of a client without a certificate", async () => {
    const answer = await settingsVia(mtlsPort, { tls: clientSettings(certs, { certFile: "", keyFile: "" }) });
    expect(answer).toBeInstanceOf(ConnectError);
    expect(errorCodes(answer)).toContain("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    const health = grpcJsClient(
      "grpc.health.v1.Health",
      `127.0.0.1:${mtlsPort}`,
      sslCredentials(false),
      nameOverride,
    );
    try {
      expect((await grpcUnary(health, "Check", { service: "" })).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      health.close();
    }
  });

  it("refuses a certificate another CA signed", async () => {
    const answer = await settingsVia(mtlsPort, {
      tls: clientSettings(certs, { certFile: certs.otherClientCertFile, keyFile: certs.otherClientKeyFile }),
    });
    expect(answer).toBeInstanceOf(ConnectError);
    expect((answer as ConnectError).code).not.toBe(Code.Unauthenticated);
  });

  it("still wants the token: a valid certificate without one is UNAUTHENTICATED, with one OK", async () => {
    const anonymous = connectClient(AdminService, `https://127.0.0.1:${mtlsPort}`, {
      protocol: "grpc",
      tls: stockClientTls(certs, true),
    });
    try {
      const refused = await anonymous.client.getSettings({}).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({ code: Code.Unauthenticated });
    } finally {
      anonymous.close();
    }
    expect(await settingsVia(mtlsPort, { token: DATA_PLANE_TOKEN })).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(await settingsVia(mtlsPort, {})).toBe(4);
    const admin = grpcJsClient(
      "switchyard.v1.AdminService",
      `127.0.0.1:${mtlsPort}`,
      sslCredentials(true),
      nameOverride,
    );
    try {
      expect((await grpcUnary(admin, "GetSettings", {})).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await grpcUnary(admin, "GetSettings", {}, bearer(ADMIN_TOKEN))).code).toBe(grpc.status.OK);
    } finally {
      admin.close();
    }
  });

  it("serves health to a client with a certificate and no token (probes inside the mesh)", async () => {
    const connection = connectControlPlane(
      { host: "127.0.0.1", port: mtlsPort, tls: true },
      { token: "", tls: clientSettings(certs), serverName: SERVER_NAME },
    );
    try {
      const answer = await createClient(Health, connection.transport).check({});
      expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      connection.close();
    }
  });
});

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
