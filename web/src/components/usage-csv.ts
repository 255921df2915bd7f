import type { UsageRecord } from "../../../src/gen/switchyard/v1/admin_pb.js";
import { Outcome } from "../../../src/gen/switchyard/v1/types_pb.js";
import { ms } from "./format.js";

/** An outcome in words: OUTCOME_FAILED_UPSTREAM → "failed upstream". */
export function outcomeWord(outcome: Outcome): string {
  return (Outcome[outcome] ?? "unknown").toLowerCase().replace(/_/g, " ");
}

const CSV_COLUMNS: [string, (r: UsageRecord) => string | number | bigint | boolean][] = [
  ["request_id", (r) => r.requestId],
  ["create_time", (r) => (r.createTime ? new Date(ms(r.createTime)).toISOString() : "")],
  ["user_id", (r) => r.userId],
  ["key_id", (r) => r.keyId],
  ["group_id", (r) => r.groupId],
  ["account_id", (r) => r.accountId],
  ["requested_model", (r) => r.requestedModel],
  ["upstream_model", (r) => r.upstreamModel],
  ["stream", (r) => r.stream],
  ["input_tokens", (r) => r.tokens?.inputTokens ?? 0n],
  ["cached_input_tokens", (r) => r.tokens?.cachedInputTokens ?? 0n],
  ["output_tokens", (r) => r.tokens?.outputTokens ?? 0n],
  ["total_cost_usd", (r) => r.totalCostUsd],
  ["outcome", (r) => outcomeWord(r.outcome)],
  ["status_code", (r) => r.statusCode],
  ["duration_ms", (r) => r.durationMs],
];

/** Usage records as CSV (a header line, one line per record, fields quoted when needed). */
export function toCsv(rows: UsageRecord[]): string {
  const cell = (v: string | number | bigint | boolean) => {
    const text = String(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [CSV_COLUMNS.map(([name]) => name).join(",")];
  for (const r of rows) lines.push(CSV_COLUMNS.map(([, get]) => cell(get(r))).join(","));
  return `${lines.join("\n")}\n`;
}

/** Hands `text` to the browser as a file download. */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}
