import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";

/** Where a command writes its result: stdout, as a table or details for people, or one JSON document. */
export interface Output {
  /** --json: exactly one JSON document. */
  readonly json: boolean;
  write(text: string): void;
}

/** A table column: its header and how a row shows in it. */
export type Column<T> = readonly [header: string, cell: (row: T) => string];

/**
 * Writes a response: with --json as proto JSON (every field present, including zero values, so scripts need no
 * defaults table), otherwise what `human` renders.
 */
export function emit<Desc extends DescMessage>(
  out: Output,
  schema: Desc,
  message: MessageShape<Desc>,
  human: () => string,
): void {
  out.write(out.json ? jsonDocument(toJson(schema, message, { alwaysEmitImplicit: true })) : human());
}

/** One JSON document, indented, with a final newline. */
export function jsonDocument(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Rows under aligned headers, or `none` when there are no rows. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], none: string): string {
  if (rows.length === 0) return `${none}\n`;
  const cells = [
    columns.map(([header]) => header),
    ...rows.map((row) => columns.map(([, cell]) => cell(row))),
  ];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? "").length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

/** One record as aligned `label  value` lines. */
export function details(pairs: ReadonlyArray<readonly [label: string, value: string]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs
    .map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd())
    .join("\n")
    .concat("\n");
}

/** An instant in UTC to the second, or `none` when unset. */
export function when(ts: Timestamp | undefined, none = "-"): string {
  if (ts === undefined) return none;
  return new Date(timestampMs(ts)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A future instant, or `none` when unset or already past (cooldowns, expiries). */
export function until(ts: Timestamp | undefined, none = "-", now = Date.now()): string {
  return ts !== undefined && timestampMs(ts) > now ? when(ts) : none;
}

/** A generated enum value as a lower-case word ("ACTIVE" → "active"), "-" when unspecified. */
export function label(names: Readonly<Record<number, string>>, value: number): string {
  const name = names[value];
  if (name === undefined) return String(value);
  return name === "UNSPECIFIED" ? "-" : name.toLowerCase().replaceAll("_", "-");
}

/** A USD amount for people: "$12.5", or `none` when empty. */
export function usd(amount: string, none = "-"): string {
  return amount === "" ? none : `$${amount}`;
}
