/**
 * The catalog: durable admin state over PostgreSQL (users, groups, API keys, accounts, passthrough rules, prices,
 * subscriptions, settings, usage). Every mutation validates its input, commits, writes one audit line and publishes a
 * change; the RPC layer only translates.
 */

import type { EntityManager } from "@mikro-orm/postgresql";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { ChangeFeed } from "../change-feed.js";
import type { CredentialCipher } from "../credential-cipher.js";
import { AccountCatalog } from "./accounts.js";
import { ApiKeyCatalog } from "./api-keys.js";
import { ChatGptAccountState } from "./chatgpt-account-state.js";
import { GroupCatalog } from "./groups.js";
import { ModelPriceCatalog } from "./model-prices.js";
import { PassthroughRuleCatalog } from "./passthrough-rules.js";
import { SettingsCatalog } from "./settings.js";
import { SubscriptionCatalog } from "./subscriptions.js";
import { UsageQueries } from "./usage-queries.js";
import { UserCatalog } from "./users.js";

export * from "./account-records.js";
export { DEFAULT_BASE_URL, KNOWN_PLATFORMS } from "./account-validation.js";
export * from "./accounts.js";
export * from "./api-keys.js";
export { ChatGptAccountState, type ChatGptCredentialInput } from "./chatgpt-account-state.js";
export * from "./groups.js";
export * from "./model-prices.js";
export type { Page, PageRequest } from "./pagination.js";
export * from "./passthrough-rules.js";
export * from "./settings.js";
export * from "./subscriptions.js";
export * from "./usage-queries.js";
export * from "./users.js";

/** What {@link createCatalog} needs; built once in the composition root. */
export interface CatalogOptions {
  /** The root entity manager (`orm.em`); each call forks it. */
  em: EntityManager;
  clock: Clock;
  changes: ChangeFeed;
  log: Logger;
  cipher: CredentialCipher;
  /** IANA zone of the subscription "calendar day" (SWITCHYARD_BILLING_TIMEZONE); default UTC. */
  billingTimezone?: string;
  /** Base URL of new ChatGPT accounts (SWITCHYARD_CHATGPT_CODEX_BASE_URL); default chatgpt.com's Codex backend. */
  chatgptBaseUrl?: string;
}

/** Every catalog, sharing one set of dependencies. */
export interface Catalog {
  users: UserCatalog;
  groups: GroupCatalog;
  apiKeys: ApiKeyCatalog;
  accounts: AccountCatalog;
  /** What the control plane itself writes on ChatGPT accounts (rotated tokens, errors, usage windows). */
  chatgptState: ChatGptAccountState;
  passthroughRules: PassthroughRuleCatalog;
  modelPrices: ModelPriceCatalog;
  subscriptions: SubscriptionCatalog;
  settings: SettingsCatalog;
  usage: UsageQueries;
}

/** Builds the catalog. */
export function createCatalog(options: CatalogOptions): Catalog {
  const log = options.log.child({ component: "catalog" });
  const deps = { em: options.em, clock: options.clock, changes: options.changes, log };
  const accountDeps = {
    ...deps,
    cipher: options.cipher,
    ...(options.chatgptBaseUrl ? { chatgptBaseUrl: options.chatgptBaseUrl } : {}),
  };
  return {
    users: new UserCatalog(deps),
    groups: new GroupCatalog(deps),
    apiKeys: new ApiKeyCatalog(deps),
    accounts: new AccountCatalog(accountDeps),
    chatgptState: new ChatGptAccountState(accountDeps),
    passthroughRules: new PassthroughRuleCatalog(deps),
    modelPrices: new ModelPriceCatalog(deps),
    subscriptions: new SubscriptionCatalog({ ...deps, billingTimezone: options.billingTimezone ?? "UTC" }),
    settings: new SettingsCatalog(deps),
    usage: new UsageQueries(options.em),
  };
}
