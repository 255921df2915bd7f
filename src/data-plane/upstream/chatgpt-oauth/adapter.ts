import { classifyErrorResponse } from "../failure.js";
import type { TranslatingUpstreamAdapter, UpstreamApi } from "../upstream-adapter.js";
import { codexRequestBody } from "./codex-body.js";
import { codexRequestHeaders, codexResponseHeaders } from "./request-headers.js";
import { codexResponseTranslation } from "./response-translation.js";
import { codexUsageWindows, exhaustedWindowResetMs } from "./usage-windows.js";

/** Codex error codes meaning the token is gone for good: no refresh will bring it back. */
const DEAD_TOKEN = /"code"\s*:\s*"(token_invalidated|token_revoked)"/;

/** `{base}/responses` for every client API: chat requests are converted to Responses. */
function codexEndpointUrl(baseUrl: string, _api: UpstreamApi): string {
  return `${baseUrl.replace(/\/+$/, "")}/responses`;
}

/**
 * A ChatGPT subscription through its Codex backend (CHATGPT-ACCOUNTS.md): the lease's credential is the current
 * access token (the control plane refreshes it), the body follows the backend's rules, the answer is always SSE and
 * is translated to what the client asked for, and usage windows come back in response headers.
 */
export const chatgptOAuthAdapter: TranslatingUpstreamAdapter = {
  kind: "chatgpt-oauth",
  endpointUrl: codexEndpointUrl,
  requestHeaders: codexRequestHeaders,
  requestBody: codexRequestBody,
  responseHeaders: codexResponseHeaders,
  classifyErrorResponse(status, headers, body, nowMs) {
    const failure = classifyErrorResponse(status, headers, body, nowMs);
    if (status === 429) {
      const windowMs = exhaustedWindowResetMs(headers);
      return windowMs > 0 ? { ...failure, resetAfterMs: windowMs } : failure;
    }
    if (status === 401) {
      const dead = DEAD_TOKEN.exec(typeof body === "string" ? body : body.toString("utf8", 0, 8192));
      if (dead) return { ...failure, message: `${dead[1]}: ${failure.message}`.slice(0, 200) };
    }
    return failure;
  },
  translateResponse: codexResponseTranslation,
  reportedUsage: codexUsageWindows,
};
