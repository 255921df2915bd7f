import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { type IpRanges, ipRanges } from "../../../shared/ip-ranges.js";
import type { KeyControls } from "./directory.js";

/** The shortest Retry-After a spend refusal gives (the window frees up continuously; never say "now"). */
const MIN_RETRY_AFTER_MS = 1_000;

/**
 * Whether the client may use the key from `clientIp`: refused (403 IP_NOT_ALLOWED) when the address is in the deny
 * list, or when there is an allow list and the address is not in it. An address the data plane could not tell
 * ("unknown") is in no list: it passes a deny list and fails an allow list.
 */
export function assertClientAllowed(controls: KeyControls, clientIp: string): void {
  if (controls.ipDeny.length > 0 && rangesOf(controls.ipDeny).has(clientIp)) {
    throw new SwitchyardError(ErrorCode.IP_NOT_ALLOWED);
  }
  if (controls.ipAllow.length > 0 && !rangesOf(controls.ipAllow).has(clientIp)) {
    throw new SwitchyardError(ErrorCode.IP_NOT_ALLOWED);
  }
}

/** A cached key record's lists are parsed on its first admit only, not on every admit. */
const parsed = new WeakMap<readonly string[], IpRanges>();

function rangesOf(list: readonly string[]): IpRanges {
  let ranges = parsed.get(list);
  if (!ranges) {
    ranges = ipRanges(list);
    parsed.set(list, ranges);
  }
  return ranges;
}

/**
 * Whether the key has spend room in every rolling window with a limit; else 429 KEY_SPEND_LIMIT_EXCEEDED naming the
 * window, with Retry-After when its oldest spend leaves the window (the earliest moment it can have room again).
 */
export function assertSpendRoom(controls: KeyControls, now: number): void {
  for (const w of controls.spendWindows) {
    if (w.spentUsd < w.limitUsd) continue;
    const freesAt = (w.oldestAt ?? now) + w.lengthMs;
    throw new SwitchyardError(ErrorCode.KEY_SPEND_LIMIT_EXCEEDED, {
      message: `API key spend limit for the last ${w.name} reached, please retry later`,
      retryAfterMs: Math.max(MIN_RETRY_AFTER_MS, freesAt - now),
    });
  }
}
