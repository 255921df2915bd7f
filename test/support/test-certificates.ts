import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The name the test server certificate carries, as a Kubernetes Service DNS name would be. */
export const SERVER_NAME = "control-plane.switchyard.test";

/** PEM files made for one test file by the `openssl` command, in a temporary folder. */
export interface TestCertificates {
  dir: string;
  /** The CA that signed the server and the client certificate. */
  caFile: string;
  /** Server certificate: SAN DNS:control-plane.switchyard.test, IP:127.0.0.1 and IP:127.0.0.3; its key. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate (extended key usage clientAuth) and its key, for mTLS. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing the server trusts, and a client certificate it signed. */
  otherCaFile: string;
  otherClientCertFile: string;
  otherClientKeyFile: string;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/**
 * Makes a CA, a server and a client certificate signed by it, and a second CA with a client certificate of its
 * own, valid for two days, with P-256 keys (fast to make). Real files, as an operator's Secret mounts them.
 */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-tls-"));
  const file = (name: string) => join(dir, name);
  await makeCa(file("ca"), "Switchyard Test CA");
  await makeCa(file("other-ca"), "Some Other CA");
  await makeLeaf(file("server"), file("ca"), "control-plane", [
    `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1,IP:127.0.0.3`,
    "extendedKeyUsage=serverAuth",
  ]);
  await makeLeaf(file("client"), file("ca"), "data-plane", ["extendedKeyUsage=clientAuth"]);
  await makeLeaf(file("other-client"), file("other-ca"), "intruder", ["extendedKeyUsage=clientAuth"]);
  return {
    dir,
    caFile: file("ca.crt"),
    serverCertFile: file("server.crt"),
    serverKeyFile: file("server.key"),
    clientCertFile: file("client.crt"),
    clientKeyFile: file("client.key"),
    otherCaFile: file("other-ca.crt"),
    otherClientCertFile: file("other-client.crt"),
    otherClientKeyFile: file("other-client.key"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(base: string, name: string): Promise<void> {
  await run("openssl", [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

async function makeLeaf(base: string, ca: string, name: string, extensions: string[]): Promise<void> {
  await run("openssl", [
    "req",
    ...KEY,
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await writeFile(`${base}.ext`, `${extensions.join("\n")}\n`);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${base}.crt`,
    "-days",
    "2",
    "-extfile",
    `${base}.ext`,
  ]);
}
