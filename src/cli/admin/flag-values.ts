import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageError } from "./usage-error.js";

/**
 * Parsers for flag values. Each takes the raw text and the flag's name (for the message) and throws UsageError on a
 * malformed value, so the command line is refused before any RPC. Values are quoted in messages only where they
 * cannot be secrets.
 */

const USD = /^\d{1,12}(\.\d{1,6})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const DURATION = /^(\d{1,6})([mhd])$/;
const DURATION_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The bounds of proto int32. */
export const INT32 = { min: -2_147_483_648, max: 2_147_483_647 } as const;
/** The largest proto uint32. */
export const UINT32_MAX = 4_294_967_295;

/** Whether a value is shaped like an entity id (entity ids are UUIDs). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A non-negative USD amount as the API takes it: a decimal with at most 6 fractional digits. */
export function usdValue(raw: string, flag: string): string {
  const value = raw.trim();
  if (!USD.test(value)) {
    throw new UsageError(
      `${flag}: expected an amount in USD like 12.5 (at most 6 decimals), got ${quote(raw)}`,
    );
  }
  return value;
}

/** A non-negative decimal with at most 6 fractional digits (rate multipliers). */
export function decimalValue(raw: string, flag: string): string {
  const value = raw.trim();
  if (!USD.test(value)) {
    throw new UsageError(
      `${flag}: expected a decimal number like 1.5 (at most 6 decimals), got ${quote(raw)}`,
    );
  }
  return value;
}

/** A whole number within [min, max]. */
export function intValue(raw: string, flag: string, min: number, max: number): number {
  const value = raw.trim();
  const n = /^-?\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got ${quote(raw)}`);
  }
  return n;
}

/** true or false. */
export function boolValue(raw: string, flag: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new UsageError(`${flag}: expected true or false, got ${quote(raw)}`);
}

/** One of a closed set of words, mapped to its value (e.g. "active" → UserStatus.ACTIVE). */
export function choiceValue<T>(raw: string, flag: string, choices: Readonly<Record<string, T>>): T {
  const value = Object.hasOwn(choices, raw) ? choices[raw] : undefined;
  if (value === undefined) {
    throw new UsageError(`${flag}: expected one of ${Object.keys(choices).join(", ")}, got ${quote(raw)}`);
  }
  return value;
}

/**
 * An instant: ISO 8601 ("2025-07-01", "2025-07-01T12:00:00Z"; without an offset, local time) or a duration from
 * now ("30m", "24h", "7d") counted into the past or the future as the flag means.
 */
export function timeValue(
  raw: string,
  flag: string,
  direction: "past" | "future",
  now = Date.now(),
): Timestamp {
  const value = raw.trim();
  const duration = DURATION.exec(value);
  if (duration) {
    const ms = Number(duration[1]) * (DURATION_MS[duration[2] ?? ""] ?? 0);
    return timestampFromMs(direction === "past" ? now - ms : now + ms);
  }
  const ms = ISO_TIME.test(value) ? Date.parse(value.replace(" ", "T")) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `${flag}: expected an ISO 8601 time like 2025-07-01T12:00:00Z or a duration like 24h, got ${quote(raw)}`,
    );
  }
  return timestampFromMs(ms);
}

/** A comma-separated list; blanks around items are dropped, empty items refused. */
export function listValue(raw: string, flag: string): string[] {
  if (raw.trim() === "") return [];
  const items = raw.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) throw new UsageError(`${flag}: empty item in ${quote(raw)}`);
  return items;
}

/** An http(s) URL. */
export function httpUrlValue(raw: string, flag: string): string {
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`${flag}: expected an http:// or https:// URL, got ${quote(raw)}`);
  }
  return raw;
}

/** Any absolute URL; the value is not quoted back, since proxy URLs may carry a password. */
export function urlValue(raw: string, flag: string): string {
  if (raw !== "" && !URL.canParse(raw)) throw new UsageError(`${flag}: expected a URL`);
  return raw;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
