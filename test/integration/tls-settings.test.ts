import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServerTls } from "../../src/control-plane/server.js";
import { ConfigError } from "../../src/shared/config.js";
import { clientTlsOptions } from "../../src/shared/control-plane-transport.js";
import { createTestCertificates, SERVER_NAME, type TestCertificates } from "../support/test-certificates.js";
import { clientSettings } from "../support/tls-control-plane.js";

/** Certificate settings are files: each is read and checked at start, and a bad one is named in one line. */

let certs: TestCertificates;
let notPem: string;
let encryptedKey: string;

beforeAll(async () => {
  certs = await createTestCertificates();
  notPem = join(certs.dir, "notes.txt");
  await writeFile(notPem, "this is not a certificate\n");
  encryptedKey = join(certs.dir, "encrypted.key");
  await writeFile(
    encryptedKey,
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
  );
});
afterAll(() => certs?.remove());

/** The message of the ConfigError `load` throws. */
function configError(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("the control plane's certificate settings", () => {
  const server = (change: Partial<Parameters<typeof loadServerTls>[0]>) => () =>
    loadServerTls({
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      clientCaFile: certs.caFile,
      ...change,
    });

  it("loads the certificate, its key and the client CA", () => {
    const loaded = loadServerTls({
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      clientCaFile: "",
    });
    expect(loaded.cert.toString()).toContain("BEGIN CERTIFICATE");
    expect(loaded.clientCa).toBeNull();
    expect(server({})().clientCa?.toString()).toContain("BEGIN CERTIFICATE");
  });

  it.each([
    [
      "a missing file",
      { certFile: "/nonexistent/tls.crt" },
      'invalid SWITCHYARD_TLS_CERT_FILE: cannot read "/nonexistent/tls.crt" (ENOENT)',
    ],
    ["a folder", { keyFile: "/" }, 'invalid SWITCHYARD_TLS_KEY_FILE: cannot read "/" (EISDIR)'],
    [
      "a file that is no PEM",
      { certFile: "notes" },
      /^invalid SWITCHYARD_TLS_CERT_FILE: ".*notes\.txt" holds no PEM certificate$/,
    ],
    [
      "a key where the certificate goes",
      { certFile: "server.key" },
      /^invalid SWITCHYARD_TLS_CERT_FILE: .* holds no PEM certificate$/,
    ],
    [
      "an encrypted key",
      { keyFile: "encrypted" },
      /^invalid SWITCHYARD_TLS_KEY_FILE: .* holds an encrypted private key/,
    ],
    [
      "another certificate's key",
      { keyFile: "client.key" },
      "invalid SWITCHYARD_TLS_KEY_FILE: not the private key of the certificate in SWITCHYARD_TLS_CERT_FILE",
    ],
    [
      "a client CA that is no certificate",
      { clientCaFile: "notes" },
      /^invalid SWITCHYARD_TLS_CLIENT_CA_FILE: .* holds no PEM certificate$/,
    ],
  ])("rejects %s, naming the variable", (_what, change, expected) => {
    const message = configError(server(resolveNames(change)));
    if (typeof expected === "string") expect(message).toBe(expected);
    else expect(message).toMatch(expected);
  });
});

describe("the clients' certificate settings", () => {
  it("trusts the CA file, checks the configured name, presents the client certificate", () => {
    const options = clientTlsOptions(clientSettings(certs), SERVER_NAME);
    expect(options.servername).toBe(SERVER_NAME);
    expect(String(options.ca)).toContain("BEGIN CERTIFICATE");
    expect(String(options.cert)).toContain("BEGIN CERTIFICATE");
    // An IP address is checked against the certificate but not sent as SNI, which RFC 6066 forbids.
    expect(clientTlsOptions(clientSettings(certs), "127.0.0.1").servername).toBeUndefined();
  });

  it.each([
    [
      "caFile",
      "/nonexistent/ca.pem",
      'invalid SWITCHYARD_CONTROL_PLANE_CA_FILE: cannot read "/nonexistent/ca.pem" (ENOENT)',
    ],
    ["certFile", "notes", /^invalid SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE: .* holds no PEM certificate$/],
    [
      "keyFile",
      "server.key",
      "invalid SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE: not the private key of the certificate in SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE",
    ],
  ])("rejects a bad %s, naming the variable", (field, value, expected) => {
    const settings = clientSettings(certs, resolveNames({ [field]: value }));
    const message = configError(() => clientTlsOptions(settings, SERVER_NAME));
    if (typeof expected === "string") expect(message).toBe(expected);
    else expect(message).toMatch(expected);
  });
});

/** Short names stand for files in the certificate folder ("notes" → notes.txt, "encrypted" → encrypted.key). */
function resolveNames<T extends Record<string, string>>(change: T): T {
  const named: Record<string, string> = { notes: notPem, encrypted: encryptedKey };
  return Object.fromEntries(
    Object.entries(change).map(([k, v]) => [k, v.startsWith("/") ? v : (named[v] ?? join(certs.dir, v))]),
  ) as T;
}
