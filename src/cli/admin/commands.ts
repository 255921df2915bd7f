import { accountCommands } from "./accounts.js";
import type { AdminCommand } from "./command.js";
import { groupCommands } from "./groups.js";
import { keyCommands } from "./keys.js";
import { liveStateCommands } from "./live-state.js";
import { priceCommands } from "./prices.js";
import { ruleCommands } from "./rules.js";
import { subscriptionCommands } from "./subscriptions.js";
import { usageCommands } from "./usage.js";
import { userCommands } from "./users.js";

/** Every `switchyard admin` command, in the order help lists them. */
export const ADMIN_COMMANDS: readonly AdminCommand[] = [
  ...userCommands,
  ...groupCommands,
  ...keyCommands,
  ...subscriptionCommands,
  ...accountCommands,
  ...ruleCommands,
  ...priceCommands,
  ...usageCommands,
  ...liveStateCommands,
];

/** The resources, e.g. "users", in help order. */
export function resources(): string[] {
  return [...new Set(ADMIN_COMMANDS.map((c) => resourceOf(c)))];
}

/** The commands of one resource. */
export function commandsOf(resource: string): AdminCommand[] {
  return ADMIN_COMMANDS.filter((c) => resourceOf(c) === resource);
}

function resourceOf(command: AdminCommand): string {
  return command.name.split(" ", 1)[0] ?? "";
}
