/**
 * How the reference system's column values are read: numbers that arrive as numeric strings, JSON columns that
 * arrive parsed (jsonb) or as text (json), money as the admin API takes it. Pure functions.
 */

/** The only platform Switchyard serves. */
export const OPENAI = "openai";

/** USD as the admin API takes it: a decimal string with at most 6 fractional digits. */
export function usd(value: number): string {
  if (!Number.isFinite(value)) return "0";
  return value.toFixed(6).replace(/\.?0+$/, "");
}

/** A limit: empty (none) for null or 0. */
export function limit(value: string | number | null): string {
  const n = Number(value ?? 0);
  return n > 0 ? usd(n) : "";
}

/** A JSON column's value: text is parsed (null when it is not JSON), anything else is already parsed. */
export function parsed(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return null;
  }
}

/** A JSON object column; {} for anything else. */
export function jsonObject(value: unknown): Record<string, unknown> {
  const v = parsed(value);
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A JSON object's string-valued entries (e.g. a model mapping); other entries are left out. */
export function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(jsonObject(value)).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

/** A JSON array's non-blank strings. */
export function stringList(value: unknown): string[] {
  const v = parsed(value);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x.trim() !== "") : [];
}

/** A JSON (or int[]) array's integers. */
export function numberList(value: unknown): number[] {
  const v = parsed(value);
  return Array.isArray(v) ? v.map(Number).filter((n) => Number.isInteger(n)) : [];
}
