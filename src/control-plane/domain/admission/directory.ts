import type { PicoUsd } from "../../../shared/money.js";
import type { PerWindow } from "../billing/subscription-limits.js";
import type { AccountHealth, AccountPenalty, AccountView } from "../scheduling/index.js";

/** Everything admission needs to know about an API key, its user and its group, read in one lookup. */
export interface KeyRecord {
  readonly keyId: string;
  readonly keyStatus: "active" | "disabled" | "revoked";
  /** Epoch ms; null for never. */
  readonly expiresAt: number | null;
  /** Null for unlimited. */
  readonly quotaUsd: PicoUsd | null;
  readonly quotaUsedUsd: PicoUsd;
  readonly userId: string;
  readonly userStatus: "active" | "disabled";
  /** 0 for unlimited. */
  readonly userConcurrency: number;
  readonly balanceUsd: PicoUsd;
  readonly groupId: string;
  readonly billingMode: "balance" | "subscription";
  /** The group's subscription limits (null for none; all null in balance groups). */
  readonly limitsUsd: PerWindow<PicoUsd | null>;
  /** The user's active subscription to the group as of the lookup; null without one, and in balance groups. */
  readonly subscription: SubscriptionStanding | null;
  /** The key's IP lists and spend windows, and its user's requests-per-minute limit. */
  readonly controls: KeyControls;
}

/** A key's access controls as admission checks them. */
export interface KeyControls {
  /** IPs and CIDRs allowed to use the key; empty allows every address not denied. */
  readonly ipAllow: readonly string[];
  /** IPs and CIDRs refused (checked before the allow list). */
  readonly ipDeny: readonly string[];
  /** Requests the key's user may start per rolling minute; 0 for unlimited. */
  readonly userRpmLimit: number;
  /** The key's rolling spend windows that have a limit; empty when none does. */
  readonly spendWindows: readonly SpendWindow[];
}

/** One rolling spend window of a key, as of the lookup (and the usage billed since). */
export interface SpendWindow {
  readonly name: "5h" | "1d" | "7d";
  readonly lengthMs: number;
  readonly limitUsd: PicoUsd;
  readonly spentUsd: PicoUsd;
  /** Epoch ms of the oldest spend still in the window (when the window first frees up); null for none. */
  readonly oldestAt: number | null;
}

/** A key without IP lists, spend limits or a requests-per-minute limit. */
export const NO_KEY_CONTROLS: KeyControls = { ipAllow: [], ipDeny: [], userRpmLimit: 0, spendWindows: [] };

/** A subscription as eligibility sees it. */
export interface SubscriptionStanding {
  readonly id: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  /**
   * What it used in each window as of the lookup: the calendar day in the billing timezone, the last 7 days, the
   * last 30 days (the usage records it was billed for, by their start time).
   */
  readonly usageUsd: PerWindow<PicoUsd>;
  /**
   * Epoch ms when the billing day `usageUsd.daily` was measured in ends. From then on the day's usage counts from
   * zero, so a cached record does not hold a subscriber over the daily limit past midnight (usage billed after the
   * lookup drops the record, so zero is exact).
   */
  readonly dayEndsAt: number;
}

/** An account as the hot path uses it: the scheduling view plus how to reach it. */
export interface AccountEntry {
  readonly view: AccountView;
  readonly name: string;
  /** The upstream adapter kind, e.g. "openai-apikey". */
  readonly kind: string;
  readonly baseUrl: string;
  /** Decrypted; never logged. For ChatGPT accounts the current access token (never the refresh token). */
  readonly credential: string;
  readonly proxyUrl: string;
  readonly health: AccountHealth;
  /** ChatGPT (OAuth) accounts: what the upstream needs besides the token, and when the token expires. */
  readonly oauth: OAuthDetails | null;
}

/** The non-secret side of a ChatGPT account's credential. */
export interface OAuthDetails {
  readonly chatgptAccountId: string;
  /** Epoch ms; null when unknown. */
  readonly expiresAt: number | null;
}

/**
 * The read model behind admission: keys and accounts, cached for the hot path and invalidated when an admin
 * change or a penalty touches them.
 */
export interface Directory {
  /** The key with this SHA-256, or null when no key has it. */
  keyByHash(keySha256: Uint8Array): Promise<KeyRecord | null>;
  /** The accounts serving a group (every status: filtering is scheduling's job). */
  accountsOfGroup(groupId: string): Promise<readonly AccountEntry[]>;
  /** Persists a penalty and the new health on an account, and updates the cached view at once. */
  recordOutcome(accountId: string, health: AccountHealth, penalty: AccountPenalty): Promise<void>;
  /** Notes that an account was just used (for least-recently-used ordering). */
  touchAccount(accountId: string, at: number): void;
}
