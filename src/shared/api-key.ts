import { createHash, randomBytes } from "node:crypto";

/** Every key Switchyard issues starts with this. */
export const API_KEY_PREFIX = "sk-sy-";

/** Length of the random part: 32 bytes as base64url without padding. */
const RANDOM_CHARS = 43;

const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${RANDOM_CHARS}}$`);

/** A fresh API key: "sk-sy-" + 32 random bytes in base64url. Shown to its owner once, stored only as a hash. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** Whether a string has the shape of a Switchyard key (checked before any lookup). */
export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** SHA-256 of a key: what is stored and what crosses the wire between the planes. */
export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** The part of a key safe to display, e.g. "sk-sy-AbCd". */
export function displayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 4);
}
