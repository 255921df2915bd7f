import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

/** Epoch ms of a timestamp; 0 when unset. */
export function ms(ts: Timestamp | undefined): number {
  return ts ? timestampDate(ts).getTime() : 0;
}

/** "2026-12-06 04:46:14" in the browser's zone; "—" when unset. */
export function dateTime(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const d = timestampDate(ts);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "1h 02m", "3m 05s", "12s". */
export function duration(totalMs: number): string {
  const s = Math.max(0, Math.round(totalMs / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** "$12.50", "$0.000150": at least two decimals, at most six, from the API's decimal string. */
export function usd(value: string): string {
  if (value === "") return "—";
  const [whole = "0", fraction = ""] = value.replace(/^-/, "").split(".");
  const digits = fraction.padEnd(2, "0").slice(0, 6);
  return `${value.startsWith("-") ? "-" : ""}$${whole}.${digits}`;
}

/** 1234567 → "1,234,567". */
export function count(value: number | bigint): string {
  return value.toLocaleString("en-US");
}

/** 0.1234 → "12.3%". */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** A short id for tables: the first 8 characters, the whole in the title. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** An instant as a datetime-local input value in the browser's zone; "" for none. */
export function localInput(epochMs: number | null): string {
  if (epochMs === null) return "";
  const d = new Date(epochMs - new Date(epochMs).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}
