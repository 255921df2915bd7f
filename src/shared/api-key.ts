import { hash, randomBytes } from "node:crypto";

/** Every key Switchyard issues starts with this. */
export const API_KEY_PREFIX = "sk-sy-";

/** Length of the random part: 32 bytes as base64url without padding. */
const RANDOM_CHARS = 43;

const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${RANDOM_CHARS}}$`);

/** A fresh API key: "sk-sy-" + 32 random bytes in base64url. Shown to its owner once, stored only as a hash. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** Whether a string has the shape of a key Switchyard issues ("sk-sy-…"). */
export function isIssuedApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** Shortest and longest key the data plane looks up: imported keys keep the reference system's format. */
const MIN_KEY_CHARS = 16;
const MAX_KEY_CHARS = 200;

/**
 * Whether a string could be a key at all (checked before any lookup): issued keys, and keys imported from another
 * gateway (e.g. "sk-" + hex), which keep their own format — 16 to 200 visible ASCII characters without spaces.
 */
export function looksLikeApiKey(value: string): boolean {
  if (value.length < MIN_KEY_CHARS || value.length > MAX_KEY_CHARS) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * SHA-256 of a key: what is stored and what crosses the wire between the planes. One-shot `hash` (no Hash object):
 * the data plane hashes the key of every request.
 */
export function hashApiKey(key: string): Buffer {
  return hash("sha256", key, "buffer");
}

/** The part of a key safe to display, e.g. "sk-sy-AbCd". */
export function displayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 4);
}
