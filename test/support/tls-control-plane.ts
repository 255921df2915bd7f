import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import {
  build,
  type ControlPlaneDeps,
  type ControlPlaneServer,
  loadServerTls,
} from "../../src/control-plane/server.js";
import { GetSettingsResponseSchema } from "../../src/gen/switchyard/v1/admin_pb.js";
import { AuthenticateResponseSchema } from "../../src/gen/switchyard/v1/gateway_pb.js";
import type { ControlPlaneClientTls } from "../../src/shared/config.js";
import { createLogger } from "../../src/shared/logger.js";
import type { ClientTls } from "./grpc-clients.js";
import { SERVER_NAME, type TestCertificates } from "./test-certificates.js";

export const ADMIN_TOKEN = "admin-token-for-tls-tests";
export const DATA_PLANE_TOKEN = "data-plane-token-for-tls-tests";

/**
 * A control-plane transport serving the test certificates, with one real method per service (GetSettings answers
 * max_account_switches 4; Authenticate a fixed principal), plus whatever `overrides` set.
 */
export function tlsTestServer(
  certs: TestCertificates,
  options: { mutual: boolean } & Partial<ControlPlaneDeps>,
): ControlPlaneServer {
  const { mutual, ...overrides } = options;
  return build({
    admin: { getSettings: () => create(GetSettingsResponseSchema, { settings: { maxAccountSwitches: 4 } }) },
    gateway: {
      authenticate: () =>
        create(AuthenticateResponseSchema, { principal: { userId: "user-1", keyId: "key-1" } }),
    },
    tokens: { admin: ADMIN_TOKEN, dataPlane: DATA_PLANE_TOKEN },
    readiness: () => true,
    registry: new Registry(),
    log: createLogger({ level: "silent" }),
    listen: { host: "127.0.0.1", port: 0 },
    tls: loadServerTls({
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      clientCaFile: mutual ? certs.caFile : "",
    }),
    ...overrides,
  });
}

/** The client settings a data plane or the CLI would have: the test CA, the Service name, the client certificate. */
export function clientSettings(
  certs: TestCertificates,
  change: Partial<ControlPlaneClientTls> = {},
): ControlPlaneClientTls {
  return {
    enabled: true,
    caFile: certs.caFile,
    servername: SERVER_NAME,
    certFile: certs.clientCertFile,
    keyFile: certs.clientKeyFile,
    ...change,
  };
}

/** The same for the stock test clients (Connect over HTTP/1.1 or HTTP/2, as PEM bytes). */
export function stockClientTls(certs: TestCertificates, withClientCert: boolean): ClientTls {
  return {
    ca: readFileSync(certs.caFile),
    servername: SERVER_NAME,
    ...(withClientCert
      ? { cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) }
      : {}),
  };
}

/** Every Node error code on an error's cause chain, outermost first. */
export function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}
