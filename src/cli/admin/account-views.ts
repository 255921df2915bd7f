import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type Account,
  AccountStatus,
  AccountType,
  type UsageWindow,
} from "../../gen/switchyard/v1/admin_pb.js";
import { present } from "./command.js";
import { type Column, details, label, until, when } from "./output.js";

/** Accounts as a table. */
export const ACCOUNT_COLUMNS: readonly Column<Account>[] = [
  ["ID", (a) => a.id],
  ["NAME", (a) => a.name],
  ["TYPE", (a) => accountKind(a.type)],
  ["STATUS", (a) => label(AccountStatus, a.status)],
  ["SCHEDULABLE", (a) => (a.schedulable ? "yes" : "no")],
  ["PRIORITY", (a) => String(a.priority)],
  ["CONCURRENCY", (a) => String(a.concurrency)],
  ["BASE URL", (a) => a.baseUrl],
  ["MODELS", (a) => models(a.modelMapping)],
  ["COOLING DOWN UNTIL", (a) => until(latestCooldown(a))],
];

/** One account, every field but the credential (which the API never returns). */
export function accountDetails(account: Account | undefined): string {
  const a = present(account, "the account");
  return details([
    ["id", a.id],
    ["name", a.name],
    ["platform", a.platform],
    ["type", accountKind(a.type)],
    ["base url", a.baseUrl],
    ["credential", a.hasCredential ? "stored" : "none"],
    ["proxy", a.proxyUrl === "" ? "none" : a.proxyUrl],
    ["groups", a.groupIds.join(", ")],
    ["models", models(a.modelMapping)],
    ["concurrency", String(a.concurrency)],
    ["priority", String(a.priority)],
    ["status", label(AccountStatus, a.status)],
    ["schedulable", a.schedulable ? "yes" : "no"],
    ["rate-limited until", until(a.rateLimitedUntil)],
    ["overloaded until", until(a.overloadedUntil)],
    ["unschedulable until", until(a.tempUnschedulableUntil)],
    ["status reason", a.statusReason],
    ...(a.type === AccountType.OAUTH
      ? ([
          ["token expires", when(a.tokenExpireTime, "unknown")],
          ["5 h window", usageWindow(a.primaryWindow)],
          ["7 d window", usageWindow(a.secondaryWindow)],
        ] as const)
      : []),
    ["last used", when(a.lastUsedTime, "never")],
    ["created", when(a.createTime)],
    ["updated", when(a.updateTime)],
  ]);
}

/** The kind as the CLI names it: `apikey` or `chatgpt` (the proto's API_KEY and OAUTH). */
export function accountKind(type: AccountType): string {
  return type === AccountType.OAUTH
    ? "chatgpt"
    : type === AccountType.API_KEY
      ? "apikey"
      : label(AccountType, type);
}

/** "37 % used, resets 2026-01-01T12:00:00.000Z" or "not reported". */
function usageWindow(w: UsageWindow | undefined): string {
  if (w === undefined) return "not reported";
  return `${Math.round(w.usedPercent * 10) / 10} % used, resets ${when(w.resetTime)}`;
}

/**
 * The account with its proxy URL's password masked: the CLI never prints credentials, and a proxy URL may carry
 * one. Applied to human and JSON output alike.
 */
export function withoutProxyPassword<T extends Account | undefined>(account: T): T {
  if (account === undefined || account.proxyUrl === "" || !URL.canParse(account.proxyUrl)) return account;
  const url = new URL(account.proxyUrl);
  if (url.password === "") return account;
  url.password = "***";
  account.proxyUrl = url.toString();
  return account;
}

/** "gpt-4o, gpt-5* → gpt-5-mini", or "all" for an empty mapping (every model served unchanged). */
function models(mapping: Readonly<Record<string, string>>): string {
  const entries = Object.entries(mapping).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return "all";
  return entries.map(([from, to]) => (to === "" ? from : `${from} → ${to}`)).join(", ");
}

function latestCooldown(a: Account) {
  const candidates = [a.rateLimitedUntil, a.overloadedUntil, a.tempUnschedulableUntil];
  let latest = candidates[0];
  for (const ts of candidates) {
    if (ts !== undefined && (latest === undefined || timestampMs(ts) > timestampMs(latest))) latest = ts;
  }
  return latest;
}
