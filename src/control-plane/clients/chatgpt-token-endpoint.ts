import { RefreshRefusedError, type TokenEndpoint, type TokenGrant } from "../domain/oauth/chatgpt-tokens.js";

/** Codex CLI's OAuth client id: the tokens it issues belong to this client (CHATGPT-ACCOUNTS.md). */
export const CHATGPT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * OpenAI's OAuth token endpoint (SWITCHYARD_CHATGPT_TOKEN_URL): `grant_type=refresh_token` as JSON. A 4xx answer is
 * a refusal (the refresh token was used, revoked or expired); 5xx, timeouts and network errors are faults to retry.
 */
export function chatgptTokenEndpoint(url: string): TokenEndpoint {
  return {
    async refresh(refreshToken: string): Promise<TokenGrant> {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          grant_type: "refresh_token",
          refresh_token: refreshToken,
          client_id: CHATGPT_CLIENT_ID,
          scope: "openid profile email",
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status >= 400 && res.status < 500)
        throw new RefreshRefusedError(refusalReason(res.status, text));
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      const body = parseObject(text);
      const accessToken = body?.access_token;
      if (typeof accessToken !== "string" || accessToken === "")
        throw new Error("token endpoint answered without an access_token");
      return {
        accessToken,
        refreshToken: typeof body?.refresh_token === "string" ? body.refresh_token : "",
        idToken: typeof body?.id_token === "string" ? body.id_token : "",
        expiresIn: typeof body?.expires_in === "number" ? body.expires_in : null,
      };
    },
  };
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** "401 invalid_grant: refresh token already used": the status and the endpoint's own words, never a token. */
function refusalReason(status: number, text: string): string {
  const body = parseObject(text);
  const error = body?.error;
  const nested = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : null;
  const code = typeof error === "string" ? error : typeof nested?.code === "string" ? nested.code : "";
  const description =
    typeof body?.error_description === "string"
      ? body.error_description
      : typeof nested?.message === "string"
        ? nested.message
        : "";
  return [String(status), code, description]
    .filter((s) => s !== "")
    .join(" ")
    .slice(0, 160);
}
