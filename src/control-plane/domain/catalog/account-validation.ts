import { hasControlCharacter, invalid } from "./validation.js";

/**
 * Rules for account fields (DESIGN.md §4, BEHAVIOUR.md "Forwarding"). Messages never quote a credential, and a
 * proxy URL is never quoted either (it may carry a password).
 */

/** Platforms an account or rule may name; only OpenAI is scheduled today. */
export const KNOWN_PLATFORMS: readonly string[] = ["openai"];
/** Where API-key accounts send requests unless told otherwise. */
export const DEFAULT_BASE_URL = "https://api.openai.com";

const URL_MAX = 2048;
const CREDENTIAL_MAX = 8192;
const MAPPING_MAX_ENTRIES = 1000;
const MODEL_NAME_MAX = 256;

/** A platform from {@link KNOWN_PLATFORMS}. */
export function knownPlatform(value: string, field: string): string {
  if (!KNOWN_PLATFORMS.includes(value)) throw invalid(field, `must be one of ${KNOWN_PLATFORMS.join(", ")}`);
  return value;
}

function parseUrl(value: string, field: string): URL {
  if (value.length > URL_MAX) throw invalid(field, `at most ${URL_MAX} characters`);
  try {
    return new URL(value);
  } catch {
    throw invalid(field, "not a valid URL");
  }
}

/**
 * An upstream base URL: http(s), a host, no user info (the credential has its own field), no query or fragment.
 * Trailing slashes are dropped so `{base}/v1/responses` never doubles one.
 */
export function baseUrl(value: string): string {
  const url = parseUrl(value.trim(), "base_url");
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw invalid("base_url", "must be http or https");
  if (url.username !== "" || url.password !== "") {
    throw invalid("base_url", "must not contain user info; put the key in credential");
  }
  if (url.search !== "" || url.hash !== "") throw invalid("base_url", "must not have a query or fragment");
  return url.toString().replace(/\/+$/, "");
}

/** A proxy URL (http, https, socks5 or socks5h — the proxy resolves names); "" for none. */
export function proxyUrl(value: string): string {
  const trimmed = value.trim();
  if (trimmed === "") return "";
  if (/\s/.test(trimmed) || hasControlCharacter(trimmed)) {
    throw invalid("proxy_url", "must not contain whitespace or control characters");
  }
  const url = parseUrl(trimmed, "proxy_url");
  if (!["http:", "https:", "socks5:", "socks5h:"].includes(url.protocol)) {
    throw invalid("proxy_url", "must be http, https, socks5 or socks5h");
  }
  if (url.hostname === "") throw invalid("proxy_url", "must name a host");
  return trimmed;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a credential becomes a header value: no control characters
const NOT_A_TOKEN = /[\s\u0000-\u001f\u007f]/;

/** An upstream API key: required, sent as a bearer token, so no whitespace or control characters. */
export function credential(value: string): string {
  const trimmed = value.trim();
  if (trimmed === "") throw invalid("credential", "required");
  if (trimmed.length > CREDENTIAL_MAX) throw invalid("credential", `at most ${CREDENTIAL_MAX} characters`);
  if (NOT_A_TOKEN.test(trimmed))
    throw invalid("credential", "must not contain whitespace or control characters");
  return trimmed;
}

/**
 * A model mapping: keys non-empty, a `*` only as the last character (a prefix pattern); targets are model names
 * (or "" to keep the requested one) and never patterns.
 */
export function modelMapping(mapping: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(mapping);
  if (entries.length > MAPPING_MAX_ENTRIES) {
    throw invalid("model_mapping", `at most ${MAPPING_MAX_ENTRIES} entries`);
  }
  const out: Record<string, string> = {};
  for (const [key, target] of entries) {
    if (key.trim() === "") throw invalid("model_mapping", "keys must not be empty");
    if (hasControlCharacter(key) || hasControlCharacter(target)) {
      throw invalid("model_mapping", "keys and targets must not contain control characters");
    }
    if (key.length > MODEL_NAME_MAX || target.length > MODEL_NAME_MAX) {
      throw invalid("model_mapping", `keys and targets are at most ${MODEL_NAME_MAX} characters`);
    }
    if (key.slice(0, -1).includes("*")) {
      throw invalid("model_mapping", `key ${JSON.stringify(key)} may only have "*" at the end`);
    }
    if (target.includes("*")) {
      throw invalid("model_mapping", `target of ${JSON.stringify(key)} must be a model name, not a pattern`);
    }
    out[key] = target;
  }
  return out;
}
