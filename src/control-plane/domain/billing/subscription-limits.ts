import type { PicoUsd } from "../../../shared/money.js";
import { startOfDay } from "../catalog/billing-windows.js";

/**
 * The windows a subscription's usage is limited over (BEHAVIOUR.md "Billing eligibility and cost"): the calendar day
 * in the billing timezone, the rolling 7 days and the rolling 30 days. Their start instants come from
 * `billingWindowStarts` (catalog/billing-windows.ts), shared with the admin API's usage figures.
 */
export type BillingWindow = "daily" | "weekly" | "monthly";

/** One value per billing window. */
export type PerWindow<T> = { readonly [W in BillingWindow]: T };

/** Builds a per-window value from a function of the window. */
export function perWindow<T>(read: (window: BillingWindow) => T): PerWindow<T> {
  return { daily: read("daily"), weekly: read("weekly"), monthly: read("monthly") };
}

/** No limit on any window: what a balance group, or a subscription group without limits, has. */
export const NO_LIMITS: PerWindow<PicoUsd | null> = { daily: null, weekly: null, monthly: null };

/** No usage in any window. */
export const NO_USAGE: PerWindow<PicoUsd> = { daily: 0n, weekly: 0n, monthly: 0n };

/**
 * Longest window first: when several are used up, the refusal names the one that frees up last, so a client told
 * "Monthly usage limit exceeded" is not misled into retrying tomorrow.
 */
const LONGEST_FIRST: readonly BillingWindow[] = ["monthly", "weekly", "daily"];

const NAMES: PerWindow<string> = { daily: "Daily", weekly: "Weekly", monthly: "Monthly" };

/**
 * The window whose usage has reached its limit (usage ≥ limit; a null limit never does), the longest such window
 * when several have, or null when every window has room.
 */
export function exhaustedWindow(
  limits: PerWindow<PicoUsd | null>,
  usage: PerWindow<PicoUsd>,
): BillingWindow | null {
  for (const window of LONGEST_FIRST) {
    const limit = limits[window];
    if (limit !== null && usage[window] >= limit) return window;
  }
  return null;
}

/**
 * When the billing day that began at `dayStart` ends in `timeZone`: the start of the next one. A calendar day lasts
 * 23 to 25 hours across daylight-saving changes, so 26 hours after its start always lies in the next day.
 */
export function endOfBillingDay(dayStart: number, timeZone: string): number {
  return startOfDay(dayStart + 26 * 3_600_000, timeZone);
}

/** The usage that counts at `now`: the day's usage is zero once the billing day it was measured in has ended. */
export function usageAt(usage: PerWindow<PicoUsd>, dayEndsAt: number, now: number): PerWindow<PicoUsd> {
  return now >= dayEndsAt ? { ...usage, daily: 0n } : usage;
}

/** The refusal message naming the window, e.g. "Daily usage limit exceeded". */
export function limitExceededMessage(window: BillingWindow): string {
  return `${NAMES[window]} usage limit exceeded`;
}
