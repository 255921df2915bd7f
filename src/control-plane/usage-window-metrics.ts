import { Gauge, type Registry } from "prom-client";
import type { UsageWindowsRecord } from "./domain/catalog/account-records.js";

/**
 * `switchyard_account_usage_window_used_percent{account_id,window}` and
 * `switchyard_account_usage_window_resets_at_seconds{account_id,window}`: ChatGPT accounts' subscription windows
 * (`primary` ~5 h, `secondary` ~7 days) as their latest response on this replica reported them.
 */
export function createUsageWindowMetrics(
  registry: Registry,
): (accountId: string, windows: UsageWindowsRecord) => void {
  const used = new Gauge({
    name: "switchyard_account_usage_window_used_percent",
    help: "Share of a ChatGPT account's subscription usage window used (0-100), as last reported.",
    labelNames: ["account_id", "window"],
    registers: [registry],
  });
  const resets = new Gauge({
    name: "switchyard_account_usage_window_resets_at_seconds",
    help: "When a ChatGPT account's subscription usage window resets (Unix seconds), as last reported.",
    labelNames: ["account_id", "window"],
    registers: [registry],
  });
  return (accountId, windows) => {
    for (const [window, w] of [
      ["primary", windows.primary],
      ["secondary", windows.secondary],
    ] as const) {
      if (w === null) continue;
      used.set({ account_id: accountId, window }, w.usedPercent);
      resets.set({ account_id: accountId, window }, Math.round(w.resetsAt / 1000));
    }
  };
}
