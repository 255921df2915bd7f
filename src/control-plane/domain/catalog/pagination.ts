import { invalid, isUuid } from "./validation.js";

/** Page size when the caller gives none. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger requested sizes are served at this size. */
export const MAX_PAGE_SIZE = 500;

/** A list call's paging fields, as the proto has them. */
export interface PageRequest {
  pageSize?: number;
  pageToken?: string;
}

/** One page; `nextPageToken` is "" on the last page. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/** The effective page size: 0 → default, above the maximum → the maximum, negative → INVALID_ARGUMENT. */
export function resolvePageSize(requested: number | undefined): number {
  const size = requested ?? 0;
  if (!Number.isInteger(size) || size < 0) throw invalid("page_size", "must not be negative");
  if (size === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(size, MAX_PAGE_SIZE);
}

/** The types a cursor position may hold: instants (epoch ms), UUIDs, free text, integers. */
export type CursorKind = "instant" | "uuid" | "text" | "int";
type CursorValue<K extends CursorKind> = K extends "instant" ? Date : K extends "int" ? number : string;
/** A decoded cursor: one typed value per sort key. */
export type Cursor<K extends readonly CursorKind[]> = { -readonly [I in keyof K]: CursorValue<K[I]> };

/**
 * An opaque page token: base64url of the JSON array of the last row's sort key. Instants travel as epoch
 * milliseconds (rows are written with millisecond precision, so the comparison is exact).
 */
export function encodeCursor(values: readonly (Date | string | number)[]): string {
  const plain = values.map((v) => (v instanceof Date ? v.getTime() : v));
  return Buffer.from(JSON.stringify(plain), "utf8").toString("base64url");
}

/**
 * Decodes a page token against the sort key's kinds; null for "" (the first page). A token that is not one this
 * list issued is INVALID_ARGUMENT, never a database error.
 */
export function decodeCursor<const K extends readonly CursorKind[]>(
  token: string | undefined,
  kinds: K,
): Cursor<K> | null {
  if (token === undefined || token === "") return null;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid("page_token", "not a token this list issued");
  }
  if (!Array.isArray(raw) || raw.length !== kinds.length) {
    throw invalid("page_token", "not a token this list issued");
  }
  return kinds.map((kind, i) => cursorValue(kind, raw[i])) as Cursor<K>;
}

function cursorValue(kind: CursorKind, value: unknown): Date | string | number {
  const bad = () => invalid("page_token", "not a token this list issued");
  switch (kind) {
    case "instant":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad();
      return new Date(value);
    case "int":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad();
      return value;
    case "uuid":
      if (typeof value !== "string" || !isUuid(value)) throw bad();
      return value;
    case "text":
      if (typeof value !== "string") throw bad();
      return value;
  }
}

/**
 * Cuts a result fetched with `size + 1` rows into a page: the extra row only says that another page exists, and
 * the token points after the last row kept.
 */
export function toPage<R, T>(
  rows: readonly R[],
  size: number,
  sortKey: (row: R) => readonly (Date | string | number)[],
  map: (row: R) => T,
): Page<T> {
  const kept = rows.slice(0, size);
  const last = kept[kept.length - 1];
  const nextPageToken = rows.length > size && last !== undefined ? encodeCursor(sortKey(last)) : "";
  return { items: kept.map(map), nextPageToken };
}
