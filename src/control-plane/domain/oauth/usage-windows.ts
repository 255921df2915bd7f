import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { Directory } from "../admission/directory.js";
import type { UsageWindowRecord, UsageWindowsRecord } from "../catalog/account-records.js";

/** One usage window as an upstream response reported it. */
export interface ReportedWindow {
  usedPercent: number;
  windowMinutes: number;
  resetAfterSeconds: number;
}

/** A subscription's windows from one response: the short (~5 h, primary) and the long (~7 days, secondary). */
export interface ReportedUsage {
  primary: ReportedWindow | null;
  secondary: ReportedWindow | null;
}

/** Where reported windows are kept (the account catalog). */
export interface UsageWindowStore {
  saveUsageWindows(accountId: string, windows: UsageWindowsRecord): Promise<void>;
}

/** Dependencies of {@link UsageWindows}. */
export interface UsageWindowsDeps {
  store: UsageWindowStore;
  directory: Directory;
  clock: Clock;
  log: Logger;
  /** Told every report (metrics). */
  onReport?: (accountId: string, windows: UsageWindowsRecord) => void;
  /** Persist an account's windows at most this often, unless a window reached or left 100 %. */
  persistEveryMs?: number;
}

const PERSIST_EVERY_MS = 30_000;

/**
 * The usage windows ChatGPT accounts report with every response (CHATGPT-ACCOUNTS.md "Usage windows and errors"):
 * kept on the account (written at most every 30 s per account and replica, at once when a window reaches 100 %),
 * and an account with a window at 100 % is rate-limited until that window resets, so selection skips it.
 */
export class UsageWindows {
  readonly #d: UsageWindowsDeps;
  readonly #persistedAt = new Map<string, { at: number; exhausted: boolean }>();

  constructor(deps: UsageWindowsDeps) {
    this.#d = deps;
  }

  async report(accountId: string, groupId: string, usage: ReportedUsage): Promise<void> {
    const now = this.#d.clock.now();
    const windows: UsageWindowsRecord = {
      primary: toRecord(usage.primary, now),
      secondary: toRecord(usage.secondary, now),
    };
    this.#d.onReport?.(accountId, windows);
    const exhausted = exhaustedWindow(windows);
    const last = this.#persistedAt.get(accountId);
    const due = !last || now - last.at >= (this.#d.persistEveryMs ?? PERSIST_EVERY_MS);
    if (due || last.exhausted !== (exhausted !== null)) {
      this.#persistedAt.set(accountId, { at: now, exhausted: exhausted !== null });
      await this.#d.store.saveUsageWindows(accountId, windows).catch((err: unknown) => {
        this.#d.log.warn({ err, accountId }, "usage windows not saved");
      });
    }
    if (exhausted !== null) await this.#rateLimit(accountId, groupId, exhausted, now);
  }

  async #rateLimit(accountId: string, groupId: string, exhausted: Exhausted, now: number): Promise<void> {
    if (exhausted.until <= now) return;
    const account = (await this.#d.directory.accountsOfGroup(groupId)).find((a) => a.view.id === accountId);
    if (!account) return;
    if ((account.view.rateLimitedUntil ?? 0) >= exhausted.until) return;
    await this.#d.directory.recordOutcome(accountId, account.health, {
      kind: "rate_limited",
      until: exhausted.until,
      reason: `subscription ${exhausted.label} usage window at 100 %`,
    });
    this.#d.log.info({ accountId, until: exhausted.until }, "subscription window exhausted");
  }
}

interface Exhausted {
  until: number;
  label: string;
}

function toRecord(w: ReportedWindow | null, now: number): UsageWindowRecord | null {
  if (w === null) return null;
  return {
    usedPercent: Math.max(0, Math.min(100, w.usedPercent)),
    windowMinutes: w.windowMinutes,
    resetsAt: now + w.resetAfterSeconds * 1000,
    reportedAt: now,
  };
}

/** The window at 100 % that resets last (both must reset before the account can serve again); null when none. */
function exhaustedWindow(windows: UsageWindowsRecord): Exhausted | null {
  let found: Exhausted | null = null;
  for (const w of [windows.primary, windows.secondary]) {
    if (w === null || w.usedPercent < 100) continue;
    if (found === null || w.resetsAt > found.until) found = { until: w.resetsAt, label: windowLabel(w) };
  }
  return found;
}

function windowLabel(w: UsageWindowRecord): string {
  return w.windowMinutes >= 1440
    ? `${Math.round(w.windowMinutes / 1440)} d`
    : `${Math.round(w.windowMinutes / 60)} h`;
}
