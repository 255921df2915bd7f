import { type Account, AccountStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import { duration, ms } from "../components/format.js";
import { Badge } from "../components/ui.js";

/**
 * The upstream's usage windows (ChatGPT accounts report a short and a long one): share used and time to reset.
 * Accounts without them (API keys) say so.
 */
export function UsageWindows({ account, now }: { account: Account; now: number }) {
  const windows = [account.primaryWindow, account.secondaryWindow].filter((w) => w !== undefined);
  if (windows.length === 0) return <span className="muted">not reported</span>;
  return (
    <span>
      {windows.map((w) => (
        <div key={w.windowMinutes}>
          {windowName(w.windowMinutes)}: {w.usedPercent.toFixed(0)}%
          {ms(w.resetTime) > now ? (
            <span className="muted"> · resets in {duration(ms(w.resetTime) - now)}</span>
          ) : null}
        </div>
      ))}
    </span>
  );
}

/** 300 → "5 h", 10080 → "7 d". */
function windowName(minutes: number): string {
  if (minutes >= 1440 && minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes >= 60 && minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

/** The account's administrative state in one word. */
export function StatusBadge({ account }: { account: Account }) {
  if (account.status === AccountStatus.DISABLED) return <Badge tone="muted">disabled</Badge>;
  if (account.status === AccountStatus.ERROR) return <Badge tone="bad">error</Badge>;
  if (!account.schedulable) return <Badge tone="warn">unschedulable</Badge>;
  return <Badge tone="ok">active</Badge>;
}

/** The longest cooldown left, with its reason; an error status with its reason. */
export function Cooldown({ account, now }: { account: Account; now: number }) {
  const until = Math.max(
    ms(account.rateLimitedUntil),
    ms(account.overloadedUntil),
    ms(account.tempUnschedulableUntil),
  );
  if (until <= now) {
    return account.status === AccountStatus.ERROR ? (
      <span>{account.statusReason || "error"}</span>
    ) : (
      <span className="muted">none</span>
    );
  }
  return (
    <span>
      {duration(until - now)} left
      <div className="muted small-print">{account.statusReason || "cooling down"}</div>
    </span>
  );
}
