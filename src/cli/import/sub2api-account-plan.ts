import { CHATGPT_CLIENT_ID } from "../../control-plane/clients/chatgpt-token-endpoint.js";
import { chatgptAccountIdOf, jwtExpiry } from "../../control-plane/domain/oauth/chatgpt-credential.js";
import type { AccountSettings, ImportKind, ImportPlan } from "./sub2api-plan.js";
import type { Sub2apiAccount, Sub2apiData, Sub2apiProxy } from "./sub2api-source.js";
import { jsonObject, OPENAI, stringRecord } from "./sub2api-values.js";

const DEFAULT_BASE_URL = "https://api.openai.com";

/**
 * The keys of an oauth account's credentials a ChatGPT account carries (SUB2API-SCHEMA.md, plus the id token when
 * sub2api kept one); every other key is listed as not carried. `client_id` is carried implicitly when it is Codex
 * CLI's, the client Switchyard refreshes as.
 */
const CHATGPT_CREDENTIAL_KEYS = new Set([
  "access_token",
  "refresh_token",
  "id_token",
  "expires_at",
  "chatgpt_account_id",
  "model_mapping",
]);

/** The carried groups, and the proxies by id, that accounts refer to. */
interface AccountRefs {
  data: Sub2apiData;
  groups: ReadonlyMap<number, string>;
  proxies: ReadonlyMap<number, Sub2apiProxy>;
}

/**
 * Plans one account: `apikey` accounts of platform openai become API-key accounts, `oauth` ones ChatGPT accounts
 * (type OAUTH); every other account, and every field that cannot be carried, is listed in the plan.
 */
export function planAccount(a: Sub2apiAccount, refs: AccountRefs, plan: ImportPlan): void {
  if (a.platform !== OPENAI) {
    plan.notCarried.push({
      kind: "account",
      name: a.name,
      reason: `platform ${a.platform} is not served by Switchyard`,
    });
    return;
  }
  const credentials = jsonObject(a.credentials);
  if (a.type === "apikey") planApiKeyAccount(a, credentials, refs, plan);
  else if (a.type === "oauth") planChatGptAccount(a, credentials, refs, plan);
  else
    plan.notCarried.push({ kind: "account", name: a.name, reason: `account type ${a.type} is not served` });
}

function planApiKeyAccount(
  a: Sub2apiAccount,
  credentials: Record<string, unknown>,
  refs: AccountRefs,
  plan: ImportPlan,
): void {
  const credential = text(credentials.api_key);
  if (credential === "") {
    plan.notCarried.push({ kind: "account", name: a.name, reason: "no api_key in its credentials" });
    return;
  }
  const settings = accountSettings(a, "account", credentials, refs, plan);
  if (settings === null) return;
  const baseUrl = text(credentials.base_url);
  plan.steps.push({ kind: "account", ...settings, baseUrl: baseUrl || DEFAULT_BASE_URL, credential });
}

/**
 * A ChatGPT account needs an access token, a refresh token (Switchyard refreshes the tokens itself) and a ChatGPT
 * account id, given or read from the tokens' claims as the control plane does. The expiry comes from the access
 * token's `exp`, so sub2api's `expires_at` is only listed when the token has none.
 */
function planChatGptAccount(
  a: Sub2apiAccount,
  credentials: Record<string, unknown>,
  refs: AccountRefs,
  plan: ImportPlan,
): void {
  const kind = "chatgpt account";
  const accessToken = text(credentials.access_token);
  const refreshToken = text(credentials.refresh_token);
  const idToken = text(credentials.id_token);
  const chatgptAccountId =
    text(credentials.chatgpt_account_id) || chatgptAccountIdOf(idToken) || chatgptAccountIdOf(accessToken);
  const missing =
    accessToken === ""
      ? "no access_token in its credentials"
      : refreshToken === ""
        ? "no refresh_token in its credentials (Switchyard refreshes the tokens itself)"
        : chatgptAccountId === ""
          ? "no chatgpt_account_id in its credentials or its tokens' claims"
          : null;
  if (missing !== null) {
    plan.notCarried.push({ kind, name: a.name, reason: missing });
    return;
  }
  const settings = accountSettings(a, kind, credentials, refs, plan);
  if (settings === null) return;
  const partial = (reason: string) => plan.partial.push({ kind, name: a.name, reason });
  const expiresAt = instant(credentials.expires_at);
  if (jwtExpiry(accessToken) === null && expiresAt !== null) {
    partial(
      `expires_at ${expiresAt.toISOString()} not carried: the access token has no exp claim (refreshed on its first 401)`,
    );
  }
  const clientId = text(credentials.client_id);
  if (clientId !== "" && clientId !== CHATGPT_CLIENT_ID)
    partial("client_id not carried: Switchyard refreshes as Codex CLI's client, which may refuse this token");
  const others = Object.keys(credentials)
    .filter((k) => !CHATGPT_CREDENTIAL_KEYS.has(k) && k !== "client_id")
    .sort();
  if (others.length > 0) partial(`credentials ${others.join(", ")} not carried`);
  plan.steps.push({ kind, ...settings, accessToken, refreshToken, idToken, chatgptAccountId });
}

/**
 * What every kind of account carries: groups (of `account_groups`, the carried ones; none → not carried), proxy,
 * concurrency, priority, model mapping, status and schedulability. Per-group priorities and the account's own rate
 * multiplier have no Switchyard equivalent and are listed.
 */
function accountSettings(
  a: Sub2apiAccount,
  kind: ImportKind,
  credentials: Record<string, unknown>,
  refs: AccountRefs,
  plan: ImportPlan,
): AccountSettings | null {
  const partial = (reason: string) => plan.partial.push({ kind, name: a.name, reason });
  const groupNames: string[] = [];
  for (const m of refs.data.accountGroups.filter((m) => m.account_id === a.id)) {
    const name = refs.groups.get(m.group_id);
    if (name === undefined) continue;
    groupNames.push(name);
    if (m.priority !== null && a.priority !== null && m.priority !== a.priority)
      partial(
        `priority ${m.priority} in group ${name} not carried (the account's own ${a.priority} applies)`,
      );
  }
  if (groupNames.length === 0) {
    plan.notCarried.push({ kind, name: a.name, reason: "it serves no carried group" });
    return null;
  }
  if (Number(a.rate_multiplier ?? 1) !== 1) partial(`rate_multiplier ${a.rate_multiplier} not carried`);
  const proxy = a.proxy_id === null ? undefined : refs.proxies.get(a.proxy_id);
  if (a.proxy_id !== null && proxy === undefined) partial(`proxy ${a.proxy_id} does not exist`);
  return {
    name: a.name,
    proxyUrl: proxy ? proxyUrl(proxy) : "",
    concurrency: a.concurrency ?? undefined,
    priority: a.priority ?? undefined,
    modelMapping: stringRecord(credentials.model_mapping),
    groupNames,
    disabled: (a.status ?? "active") !== "active",
    schedulable: a.schedulable ?? true,
  };
}

/** `protocol://[user:pass@]host:port`, credentials URL-encoded. */
function proxyUrl(p: Sub2apiProxy): string {
  const auth =
    p.username && p.username !== ""
      ? `${encodeURIComponent(p.username)}:${encodeURIComponent(p.password ?? "")}@`
      : "";
  const host = p.host.includes(":") ? `[${p.host}]` : p.host;
  return `${p.protocol}://${auth}${host}:${p.port}`;
}

function text(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

/** sub2api writes `expires_at` as RFC 3339 text; epoch seconds (or milliseconds) are read too. Null when neither. */
function instant(value: unknown): Date | null {
  const v = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  const ms =
    typeof v === "number" ? (v < 1e12 ? v * 1000 : v) : typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : null;
}
