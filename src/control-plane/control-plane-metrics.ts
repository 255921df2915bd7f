import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Directory } from "./domain/admission/directory.js";
import type { BilledUsageListener } from "./store/db/postgres-usage-ledger.js";

/** Per-group and per-account figures of the control plane (README "Operations" lists them). */
export interface ControlPlaneMetrics {
  /** `switchyard_usage_cost_usd_total{group,account}`: what recorded usage cost. */
  billed: BilledUsageListener;
  /** Sizes of lease-channel batches: operations per message received, results per message sent. */
  channelBatch(direction: "in" | "out", size: number): void;
  /** `directory` with every cooldown it records counted in `switchyard_account_cooldowns_total{account,kind}`. */
  countingCooldowns(directory: Directory): Directory;
}

const PICO_PER_USD = 1e12;

/**
 * Registers the control plane's domain metrics; `waitingByGroup` is read at scrape time for
 * `switchyard_admits_waiting{group}` (admits of this replica queued for a user or account slot).
 */
export function createControlPlaneMetrics(
  registry: Registry,
  waitingByGroup: () => ReadonlyMap<string, number>,
): ControlPlaneMetrics {
  const registers = [registry];
  const cost = new Counter({
    name: "switchyard_usage_cost_usd_total",
    help: "Cost of recorded usage in USD (group rate multiplier applied), by group and account.",
    labelNames: ["group", "account"],
    registers,
  });
  const cooldowns = new Counter({
    name: "switchyard_account_cooldowns_total",
    help: "Penalties put on accounts after upstream failures, by account and kind (rate_limited, overloaded, …).",
    labelNames: ["account", "kind"],
    registers,
  });
  const batch = new Histogram({
    name: "switchyard_channel_batch_operations",
    help: "Operations per lease-channel message (in: from data planes; out: results sent back).",
    labelNames: ["direction"],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  const batchIn = batch.labels("in");
  const batchOut = batch.labels("out");
  new Gauge({
    name: "switchyard_admits_waiting",
    help: "Admits this replica holds waiting for a user or account slot, by group.",
    labelNames: ["group"],
    registers,
    collect() {
      this.reset();
      for (const [group, waiting] of waitingByGroup()) this.set({ group }, waiting);
    },
  });
  return {
    billed(groupId, accountId, costPico) {
      if (costPico > 0n) cost.inc({ group: groupId, account: accountId }, Number(costPico) / PICO_PER_USD);
    },
    channelBatch(direction, size) {
      (direction === "in" ? batchIn : batchOut).observe(size);
    },
    countingCooldowns(directory) {
      return {
        keyByHash: (hash) => directory.keyByHash(hash),
        accountsOfGroup: (groupId) => directory.accountsOfGroup(groupId),
        touchAccount: (accountId, at) => directory.touchAccount(accountId, at),
        async recordOutcome(accountId, health, penalty) {
          await directory.recordOutcome(accountId, health, penalty);
          if (penalty.kind !== "none") cooldowns.inc({ account: accountId, kind: penalty.kind });
        },
      };
    },
  };
}
