import type { HeaderBag } from "../upstream-adapter.js";

/**
 * Client headers an OpenAI upstream may see. Everything else is dropped: the client's own credentials and
 * cookies, hop-by-hop headers (undici rejects them), `host`/`content-length` (undici sets them for the new body)
 * and `accept-encoding` (the relay reads the SSE it forwards, so the upstream must answer uncompressed).
 */
const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  "accept",
  "accept-language",
  "content-type",
  "user-agent",
  "openai-beta",
  "session_id",
  "conversation_id",
  "originator",
]);

/** Codex CLI sends its own metadata headers under this prefix; they steer upstream behaviour, so they pass. */
const CODEX_PREFIX = "x-codex-";

/** Upstream headers the client may see unchanged. */
const RETURNED_RESPONSE_HEADERS: ReadonlySet<string> = new Set(["content-type", "openai-processing-ms"]);

const RATELIMIT_PREFIX = "x-ratelimit-";

function single(value: string | string[]): string {
  return typeof value === "string" ? value : value.join(", ");
}

/** The allowlisted client headers plus `authorization: Bearer <credential>`; names are already lower-case. */
export function openAIRequestHeaders(clientHeaders: HeaderBag, credential: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in clientHeaders) {
    const value = clientHeaders[name];
    if (value === undefined) continue;
    if (FORWARDED_REQUEST_HEADERS.has(name) || name.startsWith(CODEX_PREFIX)) out[name] = single(value);
  }
  out.authorization = `Bearer ${credential}`;
  return out;
}

/**
 * The upstream headers the client may see: content type, processing time and rate-limit headers; the upstream's
 * `x-request-id` becomes `x-upstream-request-id` because the gateway's own request id takes that name.
 */
export function openAIResponseHeaders(upstreamHeaders: HeaderBag): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in upstreamHeaders) {
    const value = upstreamHeaders[name];
    if (value === undefined) continue;
    if (RETURNED_RESPONSE_HEADERS.has(name) || name.startsWith(RATELIMIT_PREFIX)) {
      out[name] = single(value);
    } else if (name === "x-request-id") {
      out["x-upstream-request-id"] = single(value);
    }
  }
  return out;
}
