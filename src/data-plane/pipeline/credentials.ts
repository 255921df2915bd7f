import { looksLikeApiKey } from "../../shared/api-key.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import { type HeaderMap, headerValue } from "./header-map.js";

/** Longest credential header accepted, in bytes. A key is 49 characters; anything far longer is abuse. */
export const MAX_CREDENTIAL_HEADER_BYTES = 256;

/** OpenAI's wording for a request without a key, naming the headers Switchyard also accepts. */
export const MISSING_API_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
  "auth (i.e. Authorization: Bearer YOUR_KEY), or in an x-api-key, x-goog-api-key or api-key header.";

/** The answer to a key in the URL, where proxies and access logs would keep it. */
export const QUERY_API_KEY_MESSAGE = "API key in query parameters is not allowed";

/** Query parameters that would carry a key (compared case-insensitively). */
const QUERY_KEY_NAMES: ReadonlySet<string> = new Set(["key", "api_key", "api-key", "apikey"]);

/** Characters echoed from a key: at most this many, so no secret part of a Switchyard key ("sk-sy-…") shows. */
const MASK_VISIBLE_CHARS = 6;

/**
 * The client's API key, from `Authorization: Bearer` (scheme case-insensitive), then `x-api-key`, `x-goog-api-key`
 * (Gemini-style clients), then `api-key`;
 * the first source holding a non-empty key wins (a non-Bearer Authorization falls through to the others).
 * Throws INVALID_REQUEST (400) for a key in the query string (checked first, whatever the headers hold), and
 * INVALID_API_KEY (401) for a credential header over 256 bytes, no key at all, or a key of the wrong shape.
 * `rawQuery` is the URL's query with or without its leading "?".
 */
export function extractApiKey(headers: HeaderMap, rawQuery: string): string {
  if (rawQuery.length > 1 && hasQueryApiKey(rawQuery)) {
    throw new SwitchyardError(ErrorCode.INVALID_REQUEST, { message: QUERY_API_KEY_MESSAGE });
  }
  const key = keyFromHeaders(headers);
  if (key === undefined) {
    throw new SwitchyardError(ErrorCode.INVALID_API_KEY, { message: MISSING_API_KEY_MESSAGE });
  }
  if (!looksLikeApiKey(key)) throw incorrectApiKey(key);
  return key;
}

/** The 401 for a key that is malformed or unknown; only a masked prefix of the key is echoed. */
export function incorrectApiKey(key: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_API_KEY, {
    message: `Incorrect API key provided: ${maskApiKey(key)}`,
  });
}

/**
 * A key as it may appear in messages and logs: up to its first 6 characters (never more than a third of it,
 * and only base64url characters), then "***". For Switchyard keys that is exactly the public "sk-sy-".
 */
export function maskApiKey(key: string): string {
  const visible = Math.min(MASK_VISIBLE_CHARS, Math.floor(key.length / 3));
  let n = 0;
  while (n < visible && isKeyChar(key.charCodeAt(n))) n++;
  return `${key.slice(0, n)}***`;
}

function keyFromHeaders(headers: HeaderMap): string | undefined {
  const authorization = credentialHeader(headers, "authorization");
  if (authorization !== undefined) {
    const token = bearerToken(authorization);
    if (token !== "") return token;
  }
  for (const name of ["x-api-key", "x-goog-api-key", "api-key"]) {
    const value = credentialHeader(headers, name)?.trim();
    if (value) return value;
  }
  return undefined;
}

/** Node decodes header values as latin1, one char per byte, so `length` is the size on the wire. */
function credentialHeader(headers: HeaderMap, name: string): string | undefined {
  const value = headerValue(headers, name);
  if (value !== undefined && value.length > MAX_CREDENTIAL_HEADER_BYTES) {
    throw new SwitchyardError(ErrorCode.INVALID_API_KEY, {
      message: `Incorrect API key provided: the ${name} header is longer than ${MAX_CREDENTIAL_HEADER_BYTES} bytes`,
    });
  }
  return value;
}

/** The token of a `Bearer <token>` value, or "" for any other scheme. */
function bearerToken(value: string): string {
  const v = value.trim();
  if (v.length < 7 || v.slice(0, 6).toLowerCase() !== "bearer") return "";
  const sep = v.charCodeAt(6);
  if (sep !== 0x20 && sep !== 0x09) return "";
  return v.slice(7).trim();
}

/** Whether the query names a key parameter with a non-empty value; parses without building a params object. */
function hasQueryApiKey(rawQuery: string): boolean {
  let start = rawQuery.charCodeAt(0) === 0x3f ? 1 : 0;
  while (start < rawQuery.length) {
    let end = rawQuery.indexOf("&", start);
    if (end === -1) end = rawQuery.length;
    const eq = rawQuery.indexOf("=", start);
    if (eq !== -1 && eq < end - 1 && QUERY_KEY_NAMES.has(queryName(rawQuery.slice(start, eq)))) return true;
    start = end + 1;
  }
  return false;
}

function queryName(raw: string): string {
  if (!raw.includes("%") && !raw.includes("+")) return raw.toLowerCase();
  try {
    return decodeURIComponent(raw.replaceAll("+", " ")).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

function isKeyChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x5f
  );
}
