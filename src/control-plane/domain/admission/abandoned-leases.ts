import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { LeaseStore } from "../../store/leases/lease-store.js";
import type { UsageInput } from "../billing/usage-ledger.js";
import { accountSlotKey } from "./account-picker.js";
import type { LeaseBook, LeaseRecord } from "./lease-book.js";
import { userSlotKey } from "./lease-keeping.js";

/** Dependencies of {@link watchAbandonedLeases}. */
export interface AbandonedLeaseDeps {
  leases: LeaseStore;
  book: LeaseBook;
  clock: Clock;
  log: Logger;
}

/**
 * Reports leases abandoned by their data plane (slots expired unreleased: it died or lost the control plane), so
 * every admitted request is accounted for. Two ways find them: the lease store's expiry reports (prompt, whenever a
 * key is touched) and a sweep of lease records every `sweepMs` (a safety net for keys nobody touches). A record is
 * claimed by a compare-and-delete, so a lease re-asserted meanwhile is left alone and each abandoned lease is
 * reported once per replica at most; `record` is idempotent across replicas, and a real usage report arriving later
 * replaces what it wrote. When `record` fails (the database is away) the record is put back for the next sweep.
 * Returns a function that stops watching.
 */
export function watchAbandonedLeases(
  deps: AbandonedLeaseDeps,
  record: (lease: LeaseRecord) => Promise<void>,
  sweepMs = 5_000,
): () => void {
  const claim = async (lease: LeaseRecord | null) => {
    if (!lease || lease.expiresAt > deps.clock.now()) return;
    if (!(await deps.book.claim(lease))) return;
    // A touch prunes the expired holders and hands their slots on; a holder that re-asserted since is kept.
    const keys = [userSlotKey(lease.userId), ...(lease.accountId ? [accountSlotKey(lease.accountId)] : [])];
    await deps.leases.loads(keys).catch(() => undefined);
    try {
      await record(lease);
    } catch {
      await deps.book.put(lease).catch(() => undefined);
    }
  };
  const unsubscribe = deps.leases.onExpired((key, holder) => {
    if (key.startsWith("user:") || key.startsWith("account:")) {
      void deps.book.get(holder).then(claim, () => undefined);
    }
  });
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void (async () => {
      for await (const lease of deps.book.all()) await claim(lease);
    })()
      .catch((err: unknown) => deps.log.warn({ err }, "abandoned-lease sweep failed"))
      .finally(() => {
        sweeping = false;
      });
  }, sweepMs);
  sweep.unref();
  return () => {
    unsubscribe();
    clearInterval(sweep);
  };
}

/** The usage record of an abandoned lease: identity from the lease record, no tokens (a real report replaces it). */
export function abandonedUsage(record: LeaseRecord, now: number): UsageInput {
  return {
    requestId: record.requestId,
    leaseId: record.leaseId,
    userId: record.userId,
    keyId: record.keyId,
    groupId: record.groupId,
    accountId: record.accountId,
    requestedModel: record.model,
    upstreamModel: record.upstreamModel,
    endpoint: record.endpoint === 2 ? "chat_completions" : "responses",
    stream: record.stream,
    tokens: { input: 0, cachedInput: 0, output: 0, reasoning: 0 },
    usageOutOfRange: false,
    clientIp: "",
    userAgent: "",
    outcome: "abandoned",
    statusCode: 0,
    firstTokenMs: 0,
    durationMs: Math.max(0, now - record.acquiredAt),
    failoverCount: Math.max(0, record.attempt - 1),
    upstreamRequestId: "",
    startedAt: record.acquiredAt,
  };
}
