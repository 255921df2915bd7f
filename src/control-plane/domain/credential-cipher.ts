import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Encrypts upstream credentials at rest with AES-256-GCM. Each ciphertext carries the id of the key that sealed it,
 * so keys can be rotated: seal with the current key, open with whichever key the id names.
 */

/** A 32-byte key and its id (first 8 hex chars of its SHA-256: stable, reveals nothing useful). */
export interface CipherKey {
  id: string;
  key: Buffer;
}

/** The sealed form stored in the database. */
export interface SealedSecret {
  keyId: string;
  /** base64url(iv ‖ tag ‖ ciphertext) */
  ciphertext: string;
}

/** Derives a key's id. */
export function cipherKey(key: Buffer): CipherKey {
  if (key.length !== 32) throw new RangeError("a credential key is 32 bytes");
  return { id: createHash("sha256").update(key).digest("hex").slice(0, 8), key };
}

/** Seals and opens credentials with a current key and any number of older ones. */
export class CredentialCipher {
  readonly #current: CipherKey;
  readonly #byId: Map<string, CipherKey>;

  constructor(current: CipherKey, previous: readonly CipherKey[] = []) {
    this.#current = current;
    this.#byId = new Map([current, ...previous].map((k) => [k.id, k]));
  }

  /** The id new ciphertexts are sealed with. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  seal(plaintext: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return {
      keyId: this.#current.id,
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url"),
    };
  }

  /** Opens a sealed secret; throws when its key is unknown or the ciphertext was tampered with. */
  open(sealed: SealedSecret): string {
    const k = this.#byId.get(sealed.keyId);
    if (!k) throw new Error(`no credential key with id ${sealed.keyId}`);
    const raw = Buffer.from(sealed.ciphertext, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", k.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}
