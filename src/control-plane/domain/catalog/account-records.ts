import type {
  Account,
  AccountHealthRecord,
  UsageWindowRecord,
  UsageWindowsRecord,
} from "../../store/db/entities.js";

export type { UsageWindowRecord, UsageWindowsRecord };

/** How an account authenticates upstream (the scheduling module's names). */
export type AccountType = "apikey" | "oauth";
/** Administrative state; `error` is set by penalties and cleared by an administrator. */
export type AccountStatus = "active" | "disabled" | "error";

/** An account as the admin API shows it: everything but the credential. */
export interface AccountRecord {
  id: string;
  name: string;
  platform: string;
  type: AccountType;
  baseUrl: string;
  /** Always true for stored accounts; the credential itself never leaves the catalog this way. */
  hasCredential: boolean;
  proxyUrl: string;
  concurrency: number;
  priority: number;
  modelMapping: Record<string, string>;
  groupIds: string[];
  status: AccountStatus;
  schedulable: boolean;
  rateLimitedUntil: Date | null;
  overloadedUntil: Date | null;
  tempUnschedulableUntil: Date | null;
  statusReason: string;
  lastUsedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** OAuth accounts: the usage windows last reported (null before the first report). */
  usageWindows: UsageWindowsRecord | null;
  /** OAuth accounts: when the stored access token expires. */
  tokenExpiresAt: Date | null;
}

/**
 * An account as the scheduler and the lease grant need it: the scheduling module's `AccountView` fields (instants as
 * epoch ms, null for unset) plus where and how to call the upstream, with the credential decrypted. Never logged,
 * never returned by an admin RPC.
 */
export interface SchedulableAccount {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  readonly type: AccountType;
  readonly priority: number;
  readonly concurrency: number;
  readonly modelMapping: Readonly<Record<string, string>>;
  readonly groupIds: readonly string[];
  readonly status: AccountStatus;
  readonly schedulable: boolean;
  /** Accounts do not expire today; kept for the scheduling view. */
  readonly expiresAt: number | null;
  readonly rateLimitedUntil: number | null;
  readonly overloadedUntil: number | null;
  readonly tempUnschedulableUntil: number | null;
  readonly lastUsedAt: number | null;
  readonly statusReason: string;
  readonly health: AccountHealthRecord;
  readonly baseUrl: string;
  /** "" for none. */
  readonly proxyUrl: string;
  /** The decrypted upstream API key; for OAuth accounts the sealed token document (oauth/chatgpt-credential.ts). */
  readonly credential: string;
  /** OAuth accounts: the usage windows last reported. */
  readonly usageWindows: UsageWindowsRecord | null;
}

function accountType(value: string): AccountType {
  return value === "oauth" ? "oauth" : "apikey";
}

function accountStatus(value: string): AccountStatus {
  return value === "disabled" || value === "error" ? value : "active";
}

/** The account row as an admin record (no credential). */
export function toAccountRecord(row: Account): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    type: accountType(row.type),
    baseUrl: row.baseUrl,
    hasCredential: row.credentialCiphertext !== "",
    proxyUrl: row.proxyUrl,
    concurrency: row.concurrency,
    priority: row.priority,
    modelMapping: { ...row.modelMapping },
    groupIds: [...row.groupIds],
    status: accountStatus(row.status),
    schedulable: row.schedulable,
    rateLimitedUntil: row.rateLimitedUntil ?? null,
    overloadedUntil: row.overloadedUntil ?? null,
    tempUnschedulableUntil: row.tempUnschedulableUntil ?? null,
    statusReason: row.statusReason,
    lastUsedAt: row.lastUsedAt ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    usageWindows: row.usageWindows ?? null,
    tokenExpiresAt: row.credentialExpiresAt ?? null,
  };
}

const ms = (d: Date | null | undefined): number | null => (d ? d.getTime() : null);

/** The account row plus its opened credential, for scheduling. */
export function toSchedulableAccount(row: Account, credential: string): SchedulableAccount {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    type: accountType(row.type),
    priority: row.priority,
    concurrency: row.concurrency,
    modelMapping: { ...row.modelMapping },
    groupIds: [...row.groupIds],
    status: accountStatus(row.status),
    schedulable: row.schedulable,
    expiresAt: null,
    rateLimitedUntil: ms(row.rateLimitedUntil),
    overloadedUntil: ms(row.overloadedUntil),
    tempUnschedulableUntil: ms(row.tempUnschedulableUntil),
    lastUsedAt: ms(row.lastUsedAt),
    statusReason: row.statusReason,
    health: row.health,
    baseUrl: row.baseUrl,
    proxyUrl: row.proxyUrl,
    credential,
    usageWindows: row.usageWindows ?? null,
  };
}
