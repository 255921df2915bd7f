import type { HeaderBag, ReportedUsage, ReportedWindow } from "../upstream-adapter.js";

function number(headers: HeaderBag, name: string): number | undefined {
  const value = headers[name];
  const text = typeof value === "string" ? value : value?.[0];
  if (text === undefined || text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function window(headers: HeaderBag, which: "primary" | "secondary"): ReportedWindow | undefined {
  const usedPercent = number(headers, `x-codex-${which}-used-percent`);
  if (usedPercent === undefined) return undefined;
  return {
    usedPercent: Math.min(usedPercent, 100),
    windowMinutes: Math.min(
      Math.round(number(headers, `x-codex-${which}-window-minutes`) ?? 0),
      4_294_967_295,
    ),
    resetAfterSeconds: Math.min(
      Math.round(number(headers, `x-codex-${which}-reset-after-seconds`) ?? 0),
      4_294_967_295,
    ),
  };
}

/** The subscription windows in Codex response headers (`x-codex-primary-*`, `x-codex-secondary-*`), if any. */
export function codexUsageWindows(headers: HeaderBag): ReportedUsage | undefined {
  const primary = window(headers, "primary");
  const secondary = window(headers, "secondary");
  if (!primary && !secondary) return undefined;
  return { ...(primary ? { primary } : {}), ...(secondary ? { secondary } : {}) };
}

/**
 * For a 429: the reset of the window that is actually exhausted (at 100 %), the long one first as the reference
 * does; 0 when no window is at 100 % (the body's `resets_in_seconds` then decides). Using the exhausted window and
 * not simply the longer one keeps a short burst from locking an account out for days (sub2api #2258).
 */
export function exhaustedWindowResetMs(headers: HeaderBag): number {
  const usage = codexUsageWindows(headers);
  for (const w of [usage?.secondary, usage?.primary]) {
    if (w && w.usedPercent >= 100 && w.resetAfterSeconds > 0) return w.resetAfterSeconds * 1000;
  }
  return 0;
}
