import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { CommandInput } from "./command-line.js";
import { UsageError } from "./usage-error.js";

/** The ChatGPT tokens `accounts create --kind chatgpt` (and `update`) send, as the request's `chatgpt` field. */
export interface ChatGptTokens {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  chatgptAccountId: string;
}

/** Notes for `--help` on the ChatGPT flags. */
export const CHATGPT_NOTES: readonly string[] = [
  "--kind chatgpt adds a ChatGPT subscription (served through its Codex backend); its tokens come from Codex CLI's",
  "  auth.json (--auth-file ~/.codex/auth.json) or from --access-token, --refresh-token and --chatgpt-account-id;",
  "  the account id is read from the id token when not given; --base-url defaults to the control plane's",
  "  SWITCHYARD_CHATGPT_CODEX_BASE_URL. Switchyard refreshes the tokens itself from then on: stop using that",
  "  auth.json elsewhere, since a refresh token works once",
];

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Reads Codex CLI's auth.json: `{"tokens": {"access_token", "refresh_token", "id_token", "account_id"}}`. */
function fromAuthFile(path: string): ChatGptTokens {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(expandHome(path), "utf8"));
  } catch (err) {
    const why =
      err instanceof SyntaxError ? "not JSON" : ((err as NodeJS.ErrnoException).code ?? "unreadable");
    throw new UsageError(`--auth-file ${path}: ${why}`);
  }
  const tokens =
    typeof parsed === "object" && parsed !== null ? (parsed as { tokens?: unknown }).tokens : undefined;
  if (typeof tokens !== "object" || tokens === null)
    throw new UsageError(
      `--auth-file ${path}: no "tokens" object (is this Codex CLI's auth.json after a login?)`,
    );
  const t = tokens as Record<string, unknown>;
  return {
    accessToken: text(t.access_token),
    refreshToken: text(t.refresh_token),
    idToken: text(t.id_token),
    chatgptAccountId: text(t.account_id),
  };
}

/**
 * The tokens given on the command line: --auth-file, or the explicit flags (which also override the file's
 * values). Undefined when no ChatGPT flag was given. Read while the command line is checked, so a missing or
 * malformed file is a usage error (exit 2) before any RPC.
 */
export function chatgptTokens(input: CommandInput): ChatGptTokens | undefined {
  const file = input.text("auth-file");
  const explicit = {
    accessToken: input.text("access-token"),
    refreshToken: input.text("refresh-token"),
    chatgptAccountId: input.text("chatgpt-account-id"),
  };
  if (file === undefined && Object.values(explicit).every((v) => v === undefined)) return undefined;
  const base =
    file === undefined
      ? { accessToken: "", refreshToken: "", idToken: "", chatgptAccountId: "" }
      : fromAuthFile(file);
  const tokens = {
    accessToken: explicit.accessToken ?? base.accessToken,
    refreshToken: explicit.refreshToken ?? base.refreshToken,
    idToken: base.idToken,
    chatgptAccountId: explicit.chatgptAccountId ?? base.chatgptAccountId,
  };
  if (tokens.accessToken === "")
    throw new UsageError("a ChatGPT account needs an access token (--access-token or --auth-file)");
  if (tokens.refreshToken === "")
    throw new UsageError("a ChatGPT account needs a refresh token (--refresh-token or --auth-file)");
  return tokens;
}
