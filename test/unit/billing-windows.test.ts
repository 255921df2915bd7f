import { describe, expect, it } from "vitest";
import {
  type BillingWindow,
  endOfBillingDay,
  exhaustedWindow,
  perWindow,
} from "../../src/control-plane/domain/billing/subscription-limits.js";
import { billingWindowStarts } from "../../src/control-plane/domain/catalog/billing-windows.js";
import { ManualClock } from "../../src/shared/clock.js";
import { parseUsd } from "../../src/shared/money.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (iso: string) => Date.parse(iso);

/** Whether a usage record started at `at` counts in `window` now: the ledger's and eligibility's `created_at >= start`. */
function counts(clock: ManualClock, timeZone: string, window: BillingWindow, at: number): boolean {
  return at >= billingWindowStarts(clock.now(), timeZone)[window];
}

describe("subscription windows on a manual clock", () => {
  it("start the calendar day at local midnight of the billing timezone", () => {
    const clock = new ManualClock(utc("2026-03-11T02:00:00Z")); // 10:00 in Shanghai
    expect(billingWindowStarts(clock.now(), "UTC").daily).toBe(utc("2026-03-11T00:00:00Z"));
    expect(billingWindowStarts(clock.now(), "Asia/Shanghai").daily).toBe(utc("2026-03-10T16:00:00Z"));
  });

  it("count a usage at 23:30 UTC in the next Shanghai day, but in the previous UTC day", () => {
    const usage = utc("2026-03-10T23:30:00Z"); // 07:30 on the 11th in Shanghai
    const clock = new ManualClock(utc("2026-03-11T02:00:00Z"));
    expect(counts(clock, "Asia/Shanghai", "daily", usage)).toBe(true);
    expect(counts(clock, "UTC", "daily", usage)).toBe(false);
  });

  it("drop the day's usage exactly when the billing day rolls over in its timezone", () => {
    const usage = utc("2026-03-11T15:00:00Z"); // 23:00 on the 11th in Shanghai
    const clock = new ManualClock(utc("2026-03-11T15:59:59.999Z"));
    expect(counts(clock, "Asia/Shanghai", "daily", usage)).toBe(true);
    expect(counts(clock, "UTC", "daily", usage)).toBe(true);
    clock.advance(1); // 00:00 on the 12th in Shanghai; still the 11th in UTC
    expect(counts(clock, "Asia/Shanghai", "daily", usage)).toBe(false);
    expect(counts(clock, "UTC", "daily", usage)).toBe(true);
    clock.set(utc("2026-03-12T00:00:00Z"));
    expect(counts(clock, "UTC", "daily", usage)).toBe(false);
  });

  it("roll the week over 7 × 24 h and the month over 30 × 24 h, whatever the timezone", () => {
    const usage = utc("2026-03-01T12:00:00Z");
    for (const zone of ["UTC", "Asia/Shanghai", "America/New_York"]) {
      const clock = new ManualClock(usage + 7 * DAY);
      expect(counts(clock, zone, "weekly", usage)).toBe(true);
      clock.advance(1);
      expect(counts(clock, zone, "weekly", usage)).toBe(false);
      expect(counts(clock, zone, "monthly", usage)).toBe(true);
      clock.set(usage + 30 * DAY);
      expect(counts(clock, zone, "monthly", usage)).toBe(true);
      clock.advance(1);
      expect(counts(clock, zone, "monthly", usage)).toBe(false);
    }
  });

  it("keep the calendar day whole across a daylight-saving change (a 23-hour day in New York)", () => {
    const clock = new ManualClock(utc("2026-03-08T20:00:00Z")); // 16:00 EDT on the spring-forward day
    expect(billingWindowStarts(clock.now(), "America/New_York").daily).toBe(utc("2026-03-08T05:00:00Z"));
    clock.set(utc("2026-03-09T03:59:59.999Z")); // 23:59:59.999 EDT
    expect(billingWindowStarts(clock.now(), "America/New_York").daily).toBe(utc("2026-03-08T05:00:00Z"));
    clock.advance(1);
    expect(billingWindowStarts(clock.now(), "America/New_York").daily).toBe(utc("2026-03-09T04:00:00Z"));
  });

  it("end each billing day at the next local midnight, 23 or 25 hours later across daylight-saving changes", () => {
    const ends = (zone: string, at: string) => {
      const dayStart = billingWindowStarts(utc(at), zone).daily;
      return new Date(endOfBillingDay(dayStart, zone)).toISOString();
    };
    expect(ends("UTC", "2026-03-10T23:59:59.999Z")).toBe("2026-03-11T00:00:00.000Z");
    expect(ends("Asia/Shanghai", "2026-03-10T23:30:00Z")).toBe("2026-03-11T16:00:00.000Z");
    expect(ends("America/New_York", "2026-03-08T12:00:00Z")).toBe("2026-03-09T04:00:00.000Z");
    expect(ends("America/New_York", "2026-11-01T12:00:00Z")).toBe("2026-11-02T05:00:00.000Z");
  });
});

describe("which subscription window is used up", () => {
  const usd = (v: string | null) => (v === null ? null : parseUsd(v));
  const limits = (d: string | null, w: string | null, m: string | null) =>
    perWindow((x) => usd({ daily: d, weekly: w, monthly: m }[x]));
  const usage = (d: string, w: string, m: string) =>
    perWindow((x) => parseUsd({ daily: d, weekly: w, monthly: m }[x]));

  it.each([
    {
      name: "none under every limit",
      l: limits("1", "5", "20"),
      u: usage("0.99", "4.99", "19.99"),
      out: null,
    },
    {
      name: "a window at exactly its limit",
      l: limits("1", "5", "20"),
      u: usage("1", "1", "1"),
      out: "daily",
    },
    { name: "weekly over", l: limits("1", "5", "20"), u: usage("0", "5.5", "5.5"), out: "weekly" },
    { name: "the longest of several", l: limits("1", "5", "20"), u: usage("2", "6", "21"), out: "monthly" },
    { name: "none when unlimited", l: limits(null, null, null), u: usage("99", "99", "99"), out: null },
    { name: "only the limited one", l: limits(null, null, "10"), u: usage("9", "9", "10"), out: "monthly" },
  ])("$name", ({ l, u, out }) => {
    expect(exhaustedWindow(l, u)).toBe(out);
  });
});
