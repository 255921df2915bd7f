import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "./config.js";

/** What a PEM file is expected to hold. */
export type PemContent = "certificate" | "private key";

/** File contents by path: each file is read once per process, however many connections use it. */
const contents = new Map<string, Buffer>();

/**
 * The bytes of the PEM file `path` names, read once per process and checked to hold `content`, so a wrong path or
 * a file of the wrong kind fails at start with one line naming `variable` rather than at the first handshake.
 * Throws {@link ConfigError}. A file replaced on disk is seen after a restart (rotation means rolling the pods).
 */
export function readPemFile(path: string, variable: string, content: PemContent): Buffer {
  let bytes = contents.get(path);
  if (bytes === undefined) {
    try {
      bytes = readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConfigError(`invalid ${variable}: cannot read ${JSON.stringify(path)} (${code})`);
    }
    contents.set(path, bytes);
  }
  const problem = pemProblem(bytes, content);
  if (problem !== null) throw new ConfigError(`invalid ${variable}: ${JSON.stringify(path)} ${problem}`);
  return bytes;
}

/**
 * Checks that `key` is the private key of the first certificate in `cert`; a mismatch would fail every handshake
 * with an error that names neither file. Throws {@link ConfigError} naming `keyVariable`.
 */
export function checkKeyPair(cert: Buffer, key: Buffer, keyVariable: string, certVariable: string): void {
  if (!new X509Certificate(cert).checkPrivateKey(privateKeyOf(key))) {
    throw new ConfigError(
      `invalid ${keyVariable}: not the private key of the certificate in ${certVariable}`,
    );
  }
}

/** Why `bytes` are not a usable PEM `content`, or null when they are. */
function pemProblem(bytes: Buffer, content: PemContent): string | null {
  const text = bytes.toString("latin1");
  if (content === "private key" && text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
    return "holds an encrypted private key (no passphrase setting exists; store it unencrypted in a Secret)";
  }
  const marker =
    content === "certificate" ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (RSA |EC )?PRIVATE KEY-----/;
  if (!marker.test(text)) return `holds no PEM ${content}`;
  try {
    if (content === "certificate") new X509Certificate(bytes);
    else privateKeyOf(bytes);
    return null;
  } catch {
    return `holds a ${content} that cannot be parsed`;
  }
}

function privateKeyOf(bytes: Buffer): KeyObject {
  return createPrivateKey({ key: bytes, format: "pem" });
}
