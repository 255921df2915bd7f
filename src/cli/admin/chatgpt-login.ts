import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import type { ChatGptTokens } from "./chatgpt-credential.js";

/** Codex CLI's OAuth client and redirect: the login is Codex CLI's, so the tokens work on the Codex backend. */
const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
const REDIRECT_URI = "http://localhost:1455/auth/callback";
/** OpenAI's token endpoint; the authorize page is on the same origin. */
export const DEFAULT_TOKEN_URL = "https://auth.openai.com/oauth/token";

/** A PKCE verifier, its S256 challenge, and a state value for one login. */
export interface LoginRequest {
  verifier: string;
  state: string;
  authorizeUrl: string;
}

/** A new login: the URL to open in a browser (authorization-code flow with PKCE, RFC 7636). */
export function startLogin(tokenUrl: string): LoginRequest {
  const verifier = randomBytes(48).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const state = randomBytes(16).toString("base64url");
  const url = new URL("/oauth/authorize", tokenUrl);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: "openid profile email offline_access",
    code_challenge: challenge,
    code_challenge_method: "S256",
    id_token_add_organizations: "true",
    codex_cli_simplified_flow: "true",
    state,
  }))
    url.searchParams.set(k, v);
  return { verifier, state, authorizeUrl: url.toString() };
}

/**
 * The authorization code in what the operator pasted: the whole redirect URL (whose `state`, when present, must be
 * this login's) or the bare code.
 */
export function codeFromPaste(pasted: string, state: string): string {
  const text = pasted.trim();
  if (text === "") throw new Error("nothing was pasted: expected the redirect URL or the code");
  if (!/^https?:\/\//.test(text)) return text;
  const url = new URL(text);
  const error = url.searchParams.get("error");
  if (error) throw new Error(`the login was refused: ${error}`);
  const pastedState = url.searchParams.get("state");
  if (pastedState !== null && pastedState !== state)
    throw new Error("the pasted URL belongs to another login (state differs); start again");
  const code = url.searchParams.get("code");
  if (!code) throw new Error("the pasted URL has no code");
  return code;
}

/** The first line of standard input. */
export async function readPastedLine(): Promise<string> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return line;
    return "";
  } finally {
    lines.close();
  }
}

/** Exchanges the code (with the PKCE verifier) for the account's tokens. */
export async function exchangeCode(tokenUrl: string, code: string, verifier: string): Promise<ChatGptTokens> {
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const why = [body.error, body.error_description].filter((v) => typeof v === "string").join(": ");
    throw new Error(`the token endpoint refused the code (${res.status}${why ? ` ${why}` : ""})`);
  }
  const text = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : "");
  if (text("access_token") === "" || text("refresh_token") === "")
    throw new Error("the token endpoint answered without an access and a refresh token");
  return {
    accessToken: text("access_token"),
    refreshToken: text("refresh_token"),
    idToken: text("id_token"),
    chatgptAccountId: "",
  };
}
