import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { codexStream } from "./codex-wire.js";
import { accessTokenFor, idTokenFor, newRefreshToken } from "./tokens.js";

export { CODEX_DELTAS, CODEX_USAGE } from "./codex-wire.js";

type Json = Record<string, unknown>;

/** One request the fake Codex backend received, with the rule violations it found in it. */
export interface CodexRequest {
  chatgptAccountId: string;
  accessToken: string;
  headers: IncomingMessage["headers"];
  body: Json;
  violations: string[];
  status: number;
}

/** How the fake answers one ChatGPT account. */
export interface CodexAccountBehaviour {
  /** Response headers to add, e.g. `x-codex-primary-used-percent`. */
  headers?: Record<string, string>;
  /** Answer 429 with a usage-limit body and these reset seconds. */
  rateLimitedFor?: number;
  /** Stop the stream after its first events: end it cleanly ("end") or reset the connection ("reset"). */
  cut?: "end" | "reset";
}

/** A ChatGPT account the fake knows: its current tokens. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  chatgptAccountId: string;
}

const FORBIDDEN_FIELDS = [
  "max_output_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "frequency_penalty",
  "presence_penalty",
  "user",
  "metadata",
  "prompt_cache_retention",
  "safety_identifier",
  "stream_options",
  "previous_response_id",
];

/** The rules CHATGPT-ACCOUNTS.md lists for requests to the Codex backend; each broken one is named. */
function violationsOf(headers: IncomingMessage["headers"], body: Json, accountId: string): string[] {
  const v: string[] = [];
  if (headers["chatgpt-account-id"] !== accountId) v.push("chatgpt-account-id header");
  if (headers.accept !== "text/event-stream") v.push("accept header");
  if (!headers.originator) v.push("originator header");
  if (!String(headers["user-agent"] ?? "").startsWith("codex")) v.push("user-agent header");
  if (body.stream !== true) v.push("stream not true");
  if (body.store !== false) v.push("store not false");
  for (const field of FORBIDDEN_FIELDS) if (field in body) v.push(`field ${field}`);
  if (typeof body.instructions !== "string" || body.instructions === "") v.push("instructions missing");
  if (!Array.isArray(body.input)) v.push("input not a list");
  else if (body.input.some((item) => (item as Json)?.role === "system")) v.push("system message in input");
  if (body.reasoning !== undefined) {
    const include = Array.isArray(body.include) ? body.include : [];
    if (!include.includes("reasoning.encrypted_content")) v.push("include lacks reasoning.encrypted_content");
  }
  return v;
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (req.headers["content-type"]?.includes("application/x-www-form-urlencoded"))
    return Object.fromEntries(new URLSearchParams(text));
  return JSON.parse(text || "{}") as Json;
}

function json(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/**
 * A fake of both ends a ChatGPT account talks to: OpenAI's OAuth token endpoint (`POST /oauth/token`, single-use
 * refresh tokens: a reused one is refused, as the real one does) and the Codex backend
 * (`POST /backend-api/codex/responses`, always SSE, access tokens checked, body rules checked per request).
 */
export async function startFakeChatGpt() {
  const requests: CodexRequest[] = [];
  const behaviours = new Map<string, CodexAccountBehaviour>();
  /** Live access tokens → their ChatGPT account. */
  const access = new Map<string, string>();
  /** Unused refresh tokens → their ChatGPT account; used ones stay refused. */
  const refresh = new Map<string, string>();
  const refusedAccounts = new Set<string>();
  const refreshes: Array<{ chatgptAccountId: string; ok: boolean; reason: string }> = [];
  const latest = new Map<string, IssuedTokens>();
  /** Authorization codes of the login flow → their ChatGPT account; and the PKCE verifiers they were redeemed with. */
  const codes = new Map<string, string>();
  const verifiers: string[] = [];

  const issue = (chatgptAccountId: string, expiresInMs: number): IssuedTokens => {
    const tokens = {
      accessToken: accessTokenFor(chatgptAccountId, Date.now() + expiresInMs),
      refreshToken: newRefreshToken(),
      idToken: idTokenFor(chatgptAccountId),
      chatgptAccountId,
    };
    access.set(tokens.accessToken, chatgptAccountId);
    refresh.set(tokens.refreshToken, chatgptAccountId);
    latest.set(chatgptAccountId, tokens);
    return tokens;
  };

  const tokenEndpoint = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readJson(req);
    const token = String(body.refresh_token ?? "");
    const accountId = refresh.get(token);
    const refuse = (reason: string) => {
      refreshes.push({ chatgptAccountId: accountId ?? "", ok: false, reason });
      json(res, 401, { error: "invalid_grant", error_description: reason });
    };
    if (body.client_id !== "app_EMoamEEZ73f0CkXaXp7hrann") return json(res, 400, { error: "invalid_client" });
    if (body.grant_type === "authorization_code") {
      const owner = codes.get(String(body.code ?? ""));
      if (owner === undefined || typeof body.code_verifier !== "string")
        return json(res, 400, { error: "invalid_grant", error_description: "unknown code" });
      codes.delete(String(body.code));
      verifiers.push(body.code_verifier);
      const tokens = issue(owner, 10 * 24 * 3_600_000);
      return json(res, 200, {
        access_token: tokens.accessToken,
        refresh_token: tokens.refreshToken,
        id_token: tokens.idToken,
      });
    }
    if (body.grant_type !== "refresh_token") return json(res, 400, { error: "unsupported_grant_type" });
    if (accountId === undefined) return refuse("refresh token already used or unknown");
    if (refusedAccounts.has(accountId)) return refuse("refresh token revoked");
    refresh.delete(token);
    const next = issue(accountId, 10 * 24 * 3_600_000);
    refreshes.push({ chatgptAccountId: accountId, ok: true, reason: "" });
    json(res, 200, {
      access_token: next.accessToken,
      refresh_token: next.refreshToken,
      id_token: next.idToken,
      expires_in: 864_000,
    });
  };

  const codex = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readJson(req);
    const auth = String(req.headers.authorization ?? "");
    const accessToken = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    const accountId = access.get(accessToken) ?? "";
    const record: CodexRequest = {
      chatgptAccountId: String(req.headers["chatgpt-account-id"] ?? ""),
      accessToken,
      headers: req.headers,
      body,
      violations: accountId === "" ? [] : violationsOf(req.headers, body, accountId),
      status: 200,
    };
    requests.push(record);
    if (accountId === "") {
      record.status = 401;
      return json(res, 401, {
        error: {
          message: "Provided authentication token is expired.",
          type: "invalid_request_error",
          code: "token_expired",
        },
      });
    }
    const behaviour = behaviours.get(accountId) ?? {};
    if (behaviour.rateLimitedFor !== undefined) {
      record.status = 429;
      return json(
        res,
        429,
        {
          error: {
            type: "usage_limit_reached",
            message: "The usage limit has been reached",
            resets_in_seconds: behaviour.rateLimitedFor,
          },
        },
        behaviour.headers,
      );
    }
    // Only the tests' own tool is called: a client with other tools (Codex CLI's shell) just gets text.
    const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
    const toolName = tools.some((tool) => tool?.name === "get_weather") ? "get_weather" : null;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "x-request-id": "codex-req-1",
      ...behaviour.headers,
    });
    const frames = codexStream(String(body.model), toolName);
    for (const frame of behaviour.cut ? frames.slice(0, 4) : frames) res.write(frame);
    if (behaviour.cut === "reset") res.socket?.resetAndDestroy();
    else res.end();
  };

  const server = createServer((req, res) => {
    const handle =
      req.method === "POST" && req.url === "/oauth/token"
        ? tokenEndpoint
        : req.method === "POST" && req.url === "/backend-api/codex/responses"
          ? codex
          : null;
    if (!handle) return json(res, 404, { error: { message: "not found" } });
    handle(req, res).catch((err: unknown) => json(res, 500, { error: { message: String(err) } }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    tokenUrl: `${url}/oauth/token`,
    codexBaseUrl: `${url}/backend-api/codex`,
    requests,
    refreshes,
    /** The PKCE verifiers authorization codes were redeemed with, in order. */
    verifiers,
    /** A one-time authorization code, as the login page would redirect with, for `chatgptAccountId`. */
    authorizationCode(chatgptAccountId: string): string {
      const code = `ac_${randomBytes(8).toString("hex")}`;
      codes.set(code, chatgptAccountId);
      return code;
    },
    /** Registers a ChatGPT account whose access token expires in `expiresInMs`. */
    issue,
    /** The tokens the fake issued last for an account. */
    latest: (chatgptAccountId: string) => latest.get(chatgptAccountId),
    /** The upstream no longer accepts this access token (its next use is answered 401). */
    revokeAccess: (accessToken: string) => access.delete(accessToken),
    /** Every refresh of this account is refused from now on. */
    refuseRefresh: (chatgptAccountId: string) => refusedAccounts.add(chatgptAccountId),
    behave: (chatgptAccountId: string, behaviour: CodexAccountBehaviour) =>
      behaviours.set(chatgptAccountId, behaviour),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A running fake. */
export type FakeChatGpt = Awaited<ReturnType<typeof startFakeChatGpt>>;
