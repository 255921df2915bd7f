import { randomBytes } from "node:crypto";

/** A JWT as OpenAI's auth issues them for ChatGPT (unsigned here: nobody downstream verifies the signature). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.${randomBytes(16).toString("base64url")}`;
}

/** An access token for `chatgptAccountId` expiring at `expiresAtMs`. */
export function accessTokenFor(chatgptAccountId: string, expiresAtMs: number): string {
  return fakeJwt({
    exp: Math.floor(expiresAtMs / 1000),
    jti: randomBytes(8).toString("hex"),
    "https://api.openai.com/auth": { chatgpt_account_id: chatgptAccountId, chatgpt_plan_type: "plus" },
  });
}

/** An id token carrying the ChatGPT account id in the claim Codex CLI reads. */
export function idTokenFor(chatgptAccountId: string): string {
  return fakeJwt({
    email: "dev@example.com",
    "https://api.openai.com/auth": { chatgpt_account_id: chatgptAccountId },
  });
}

/** A refresh token: opaque, single-use. */
export function newRefreshToken(): string {
  return `rt_${randomBytes(24).toString("base64url")}`;
}
