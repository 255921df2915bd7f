import type { MigrationObject } from "@mikro-orm/core";
import { InitialSchema } from "./0001-initial-schema.js";
import { SubscriptionUsageIndex } from "./0002-subscription-usage-index.js";
import { UsageOutOfRange } from "./0003-usage-out-of-range.js";
import { ParityWithReference } from "./0004-parity-with-reference.js";
import { ChatGptAccounts } from "./0005-chatgpt-accounts.js";

/** Every migration, oldest first. Append new ones; never edit one that has shipped. */
export const MIGRATIONS: MigrationObject[] = [
  { name: "0001-initial-schema", class: InitialSchema },
  { name: "0002-subscription-usage-index", class: SubscriptionUsageIndex },
  { name: "0003-usage-out-of-range", class: UsageOutOfRange },
  { name: "0004-parity-with-reference", class: ParityWithReference },
  { name: "0005-chatgpt-accounts", class: ChatGptAccounts },
];
