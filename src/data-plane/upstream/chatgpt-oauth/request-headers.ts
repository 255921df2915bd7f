import { createHash } from "node:crypto";
import type { HeaderBag, UpstreamCall } from "../upstream-adapter.js";

/** Client headers the Codex backend may see besides the ones set here; the rest is dropped (as for API keys). */
const FORWARDED: ReadonlySet<string> = new Set([
  "accept-language",
  "openai-beta",
  "originator",
  "user-agent",
]);
const CODEX_PREFIX = "x-codex-";
/** Codex CLI's originator, for clients that are not Codex CLI. */
const DEFAULT_ORIGINATOR = "codex_cli_rs";
const DEFAULT_USER_AGENT = "codex_cli_rs/0.63.0 (switchyard)";

const NO_CALL: UpstreamCall = { chatgptAccountId: "", keyId: "" };

function single(value: string | string[]): string {
  return typeof value === "string" ? value : value.join(", ");
}

/**
 * A per-user stand-in for a client's session or cache key: users sharing one subscription never share an upstream
 * session or prompt cache, and each user keeps a stable one (so caches still hit). UUID-shaped, as Codex's are.
 */
export function isolatedId(keyId: string, clientValue: string): string {
  const hex = createHash("sha256").update(`${keyId}\n${clientValue}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Headers for `POST {base}/responses` on the Codex backend (CHATGPT-ACCOUNTS.md "Forwarding"): the access token,
 * the ChatGPT account id, SSE always, the client's originator and user agent when it is Codex-like (else Codex
 * CLI's), and the client's session id replaced by a per-user one.
 */
export function codexRequestHeaders(
  clientHeaders: HeaderBag,
  accessToken: string,
  call: UpstreamCall = NO_CALL,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in clientHeaders) {
    const value = clientHeaders[name];
    if (value === undefined) continue;
    if (FORWARDED.has(name) || name.startsWith(CODEX_PREFIX)) out[name] = single(value);
  }
  out.originator ??= DEFAULT_ORIGINATOR;
  if (!out["user-agent"]?.toLowerCase().startsWith("codex")) out["user-agent"] = DEFAULT_USER_AGENT;
  out["openai-beta"] ??= "responses=experimental";
  out.accept = "text/event-stream";
  out["content-type"] = "application/json";
  out.authorization = `Bearer ${accessToken}`;
  if (call.chatgptAccountId !== "") out["chatgpt-account-id"] = call.chatgptAccountId;
  const session = clientHeaders.session_id ?? clientHeaders.conversation_id;
  if (session !== undefined) out.session_id = isolatedId(call.keyId, single(session));
  return out;
}

/** Upstream headers the client may see: the upstream's request id (renamed) and the usage-window headers. */
export function codexResponseHeaders(upstreamHeaders: HeaderBag): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in upstreamHeaders) {
    const value = upstreamHeaders[name];
    if (value === undefined) continue;
    if (name === "content-type" || name.startsWith(CODEX_PREFIX)) out[name] = single(value);
    else if (name === "x-request-id") out["x-upstream-request-id"] = single(value);
  }
  return out;
}
