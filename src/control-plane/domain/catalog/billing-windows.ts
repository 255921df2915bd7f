/**
 * The windows subscription limits are measured over (BEHAVIOUR.md "Billing eligibility and cost"): the calendar day
 * in the billing timezone, the rolling 7 days and the rolling 30 days.
 */

const DAY_MS = 86_400_000;

/** Start instants (epoch ms) of the three windows that contain `now`. */
export interface BillingWindowStarts {
  daily: number;
  weekly: number;
  monthly: number;
}

/** The offset of `timeZone` from UTC at `at`, in ms (positive east of Greenwich). */
function zoneOffsetMs(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The instant the calendar day containing `now` began in `timeZone`. Computed from the zone's offset, re-checked at
 * the candidate midnight so a DST change during the day does not shift it.
 */
export function startOfDay(now: number, timeZone: string): number {
  const offset = zoneOffsetMs(timeZone, now);
  const local = new Date(now + offset);
  const localMidnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  const guess = localMidnight - offset;
  return localMidnight - zoneOffsetMs(timeZone, guess);
}

/** The three window starts at `now`. */
export function billingWindowStarts(now: number, timeZone: string): BillingWindowStarts {
  return { daily: startOfDay(now, timeZone), weekly: now - 7 * DAY_MS, monthly: now - 30 * DAY_MS };
}
