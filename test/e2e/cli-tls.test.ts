import { randomBytes } from "node:crypto";
import { once } from "node:events";
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlaneProcess, freePort, runCli, startControlPlaneProcess } from "../support/cli.js";
import { startDnsServer, type TestDnsServer } from "../support/dns-server.js";
import { grpcJsClient, grpcUnary } from "../support/grpc-clients.js";
import { createTestCertificates, SERVER_NAME, type TestCertificates } from "../support/test-certificates.js";

/**
 * `switchyard admin` against a control plane process serving mTLS on 127.0.0.3, as an operator reaches one in a
 * cluster: by URL, by a list, or by the Service's dns: name, with the CA, the Service name and a client
 * certificate. 127.0.0.2 plays a replica that is down (nothing listens there).
 */

let certs: TestCertificates;
let dns: TestDnsServer;
let cp: ControlPlaneProcess;
let port: number;
let healthPort: number;

beforeAll(async () => {
  certs = await createTestCertificates();
  dns = await startDnsServer();
  healthPort = await freePort("127.0.0.3");
  cp = await startControlPlaneProcess("cli_tls", {
    host: "127.0.0.3",
    env: {
      SWITCHYARD_TLS_CERT_FILE: certs.serverCertFile,
      SWITCHYARD_TLS_KEY_FILE: certs.serverKeyFile,
      SWITCHYARD_TLS_CLIENT_CA_FILE: certs.caFile,
      SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN: `127.0.0.3:${healthPort}`,
    },
  });
  port = Number(new URL(cp.url).port);
  expect(cp.url).toBe(`https://127.0.0.3:${port}`);
});

afterAll(async () => {
  expect(await cp?.stop()).toBe(0);
  await dns?.close();
  await certs?.remove();
});

/** The settings an operator's shell has for a TLS control plane, changed by `env`. */
function admin(args: string[], env: Record<string, string> = {}) {
  return runCli(["admin", ...args], {
    SWITCHYARD_CONTROL_PLANE_URL: cp.url,
    SWITCHYARD_ADMIN_TOKEN: cp.adminToken,
    SWITCHYARD_CONTROL_PLANE_CA_FILE: certs.caFile,
    SWITCHYARD_CONTROL_PLANE_SERVERNAME: SERVER_NAME,
    SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE: certs.clientCertFile,
    SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE: certs.clientKeyFile,
    ...env,
  });
}

/** Exit 1 with one line on stderr matching `pattern`, nothing on stdout. */
function expectFailure(r: { status: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  expect(r.status).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^switchyard: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
}

describe("switchyard admin over TLS", () => {
  it("creates and lists users over mTLS, checking the certificate against the Service name", async () => {
    const created = await admin(["users", "create", "--name", "tls-alice"]);
    expect(created, created.stderr).toMatchObject({ status: 0, stderr: "" });
    const listed = await admin(["users", "list", "--json"]);
    expect(listed, listed.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(listed.stdout).toContain('"tls-alice"');
  });

  it("uses the first replica that answers, from a list whose first entry is down", async () => {
    const r = await admin(["users", "list"], {
      SWITCHYARD_CONTROL_PLANE_URL: `https://127.0.0.2:${port},https://127.0.0.3:${port}`,
    });
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(r.stdout).toContain("tls-alice");
  });

  it("moves on from a replica that accepts connections and never answers, after the 2 s probe", async () => {
    const silent = net.createServer(() => undefined);
    silent.listen(0, "127.0.0.2");
    await once(silent, "listening");
    const silentPort = (silent.address() as net.AddressInfo).port;
    try {
      const t0 = performance.now();
      const r = await admin(["users", "list"], {
        SWITCHYARD_CONTROL_PLANE_URL: `https://127.0.0.2:${silentPort},https://127.0.0.3:${port}`,
      });
      expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
      expect(r.stdout).toContain("tls-alice");
      expect(performance.now() - t0).toBeGreaterThanOrEqual(2_000);
    } finally {
      silent.close();
    }
  });

  it("resolves a dns: name, uses TLS by the setting and checks the certificate against that name", async () => {
    dns.set(SERVER_NAME, ["127.0.0.2", "127.0.0.3"]);
    const r = await admin(["users", "list"], {
      SWITCHYARD_CONTROL_PLANE_URL: `dns://127.0.0.1:${dns.port}/${SERVER_NAME}:${port}`,
      SWITCHYARD_CONTROL_PLANE_TLS: "true",
      SWITCHYARD_CONTROL_PLANE_SERVERNAME: "",
    });
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: "" });
    expect(r.stdout).toContain("tls-alice");
  });

  it("exits 1 with the reason when the handshake fails", async () => {
    const url = `https://127\\.0\\.0\\.3:${port}`;
    expectFailure(
      await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_CA_FILE: certs.otherCaFile }),
      // With mTLS the server also sends its CA (OpenSSL builds the chain from the client CA store), which the client
      // does not trust either.
      new RegExp(
        `cannot reach the control plane at ${url} \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN): `,
      ),
    );
    expectFailure(
      await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_SERVERNAME: "intruder.switchyard.test" }),
      /\(ERR_TLS_CERT_ALTNAME_INVALID: .*intruder\.switchyard\.test/,
    );
    expectFailure(
      await admin(["users", "list"], {
        SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE: "",
        SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE: "",
      }),
      new RegExp(`at ${url} \\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\\)`),
    );
    expectFailure(
      await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_URL: `http://127.0.0.3:${port}` }),
      /connection closed before an answer: check http:\/\/ vs https:\/\//,
    );
  });

  it("exits 1 when no replica of a list answers", async () => {
    const list = `https://127.0.0.2:${port},https://127.0.0.4:${port}`;
    const r = await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_URL: list });
    expectFailure(
      r,
      new RegExp(
        `^switchyard: cannot reach the control plane at ${list.replaceAll(".", "\\.")} \\(ECONNREFUSED\\)`,
      ),
    );
  });

  it("exits 1 naming the variable when a certificate file cannot be read", async () => {
    const r = await admin(["users", "list"], { SWITCHYARD_CONTROL_PLANE_CA_FILE: "/nonexistent/ca.pem" });
    expect(r).toMatchObject({
      status: 1,
      stdout: "",
      stderr:
        'switchyard: invalid SWITCHYARD_CONTROL_PLANE_CA_FILE: cannot read "/nonexistent/ca.pem" (ENOENT)\n',
    });
  });
});

describe("switchyard serve control-plane with TLS", () => {
  it("answers kubelet-style plaintext health checks on the health port", async () => {
    const health = grpcJsClient("grpc.health.v1.Health", `127.0.0.3:${healthPort}`);
    try {
      expect((await grpcUnary(health, "Check", { service: "" })).response).toEqual({ status: "SERVING" });
      const admin = grpcJsClient("switchyard.v1.AdminService", `127.0.0.3:${healthPort}`);
      try {
        expect((await grpcUnary(admin, "ListUsers", {})).code).toBe(grpc.status.UNIMPLEMENTED);
      } finally {
        admin.close();
      }
    } finally {
      health.close();
    }
  });

  it.each([
    [
      "a missing certificate",
      { SWITCHYARD_TLS_CERT_FILE: "/nonexistent/tls.crt" },
      /^switchyard: invalid SWITCHYARD_TLS_CERT_FILE: cannot read "\/nonexistent\/tls\.crt" \(ENOENT\)\n$/,
    ],
    [
      "a key that is not the certificate's",
      { SWITCHYARD_TLS_KEY_FILE: "client.key" },
      /^switchyard: invalid SWITCHYARD_TLS_KEY_FILE: not the private key of the certificate in SWITCHYARD_TLS_CERT_FILE\n$/,
    ],
    [
      "a client CA that is no certificate",
      { SWITCHYARD_TLS_CLIENT_CA_FILE: "server.key" },
      /^switchyard: invalid SWITCHYARD_TLS_CLIENT_CA_FILE: ".*server\.key" holds no PEM certificate\n$/,
    ],
  ])("refuses to start with %s, in one line naming the variable", async (_what, change, expected) => {
    const inDir = (value: string) => (value.startsWith("/") ? value : `${certs.dir}/${value}`);
    const r = await runCli(["serve", "control-plane"], {
      // Never reached: the files are checked before the database is opened.
      SWITCHYARD_DATABASE_URL: "postgres://127.0.0.1:9/never",
      SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
      SWITCHYARD_TLS_CERT_FILE: certs.serverCertFile,
      SWITCHYARD_TLS_KEY_FILE: certs.serverKeyFile,
      ...Object.fromEntries(Object.entries(change).map(([k, v]) => [k, inDir(v)])),
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(expected);
  });
});
