/**
 * A ChatGPT subscription's OAuth tokens as Switchyard stores them: one JSON document sealed like an API key
 * (credential-cipher.ts), so the access token, the single-use refresh token and the ChatGPT account id are all
 * encrypted at rest. Pure functions: no I/O.
 */

/** The tokens of one ChatGPT account. */
export interface ChatGptCredential {
  accessToken: string;
  refreshToken: string;
  /** "" when none was given. */
  idToken: string;
  chatgptAccountId: string;
  /** Epoch ms when the access token expires; null when neither its `exp` nor the token endpoint said. */
  expiresAt: number | null;
}

const TOKEN_MAX = 16_384;

/** The claim namespace OpenAI puts the ChatGPT account id under in its id tokens. */
const AUTH_CLAIM = "https://api.openai.com/auth";

/** A JWT's payload, or null when the token is not a JWT (opaque tokens are allowed: they just carry no claims). */
export function jwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Epoch ms of a JWT's `exp` claim; null when it has none. */
export function jwtExpiry(token: string): number | null {
  const exp = jwtClaims(token)?.exp;
  return typeof exp === "number" && Number.isFinite(exp) && exp > 0 ? exp * 1000 : null;
}

/** The ChatGPT account id in an id (or access) token's claims; "" when absent. */
export function chatgptAccountIdOf(token: string): string {
  const auth = jwtClaims(token)?.[AUTH_CLAIM];
  if (typeof auth !== "object" || auth === null) return "";
  const id = (auth as Record<string, unknown>).chatgpt_account_id;
  return typeof id === "string" ? id : "";
}

/** Why a credential was refused; the message names the field and never quotes a token. */
export class CredentialShapeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function token(value: string | undefined, field: string, required: boolean): string {
  const v = (value ?? "").trim();
  if (required && v === "") throw new CredentialShapeError(field, "is required");
  if (v.length > TOKEN_MAX) throw new CredentialShapeError(field, `at most ${TOKEN_MAX} characters`);
  if (/\s/.test(v)) throw new CredentialShapeError(field, "must not contain whitespace");
  return v;
}

/**
 * The credential an admin gave: access and refresh tokens required; the account id from the field, else from the id
 * token's (or access token's) claims, else refused; the expiry from the access token's `exp`.
 */
export function chatgptCredentialFrom(input: {
  accessToken?: string;
  refreshToken?: string;
  idToken?: string;
  chatgptAccountId?: string;
}): ChatGptCredential {
  const accessToken = token(input.accessToken, "chatgpt.access_token", true);
  const refreshToken = token(input.refreshToken, "chatgpt.refresh_token", true);
  const idToken = token(input.idToken, "chatgpt.id_token", false);
  const chatgptAccountId =
    token(input.chatgptAccountId, "chatgpt.chatgpt_account_id", false) ||
    chatgptAccountIdOf(idToken) ||
    chatgptAccountIdOf(accessToken);
  if (chatgptAccountId === "")
    throw new CredentialShapeError(
      "chatgpt.chatgpt_account_id",
      "is required (it was not found in the id token's claims either)",
    );
  return { accessToken, refreshToken, idToken, chatgptAccountId, expiresAt: jwtExpiry(accessToken) };
}

/** The form sealed into the account's credential columns. */
export function serializeChatGptCredential(c: ChatGptCredential): string {
  return JSON.stringify({
    v: 1,
    access_token: c.accessToken,
    refresh_token: c.refreshToken,
    id_token: c.idToken,
    chatgpt_account_id: c.chatgptAccountId,
    expires_at: c.expiresAt,
  });
}

/** Reads a sealed credential back; null when the text is not one (e.g. an API key). */
export function parseChatGptCredential(text: string): ChatGptCredential | null {
  if (!text.startsWith("{")) return null;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : "");
    const expiresAt = typeof v.expires_at === "number" ? v.expires_at : null;
    return {
      accessToken: str("access_token"),
      refreshToken: str("refresh_token"),
      idToken: str("id_token"),
      chatgptAccountId: str("chatgpt_account_id"),
      expiresAt,
    };
  } catch {
    return null;
  }
}

/** Whether the access token must be refreshed before use: expiry unknown is trusted, ≤ `marginMs` left is not. */
export function needsRefresh(expiresAt: number | null, now: number, marginMs: number): boolean {
  return expiresAt !== null && expiresAt - now <= marginMs;
}
