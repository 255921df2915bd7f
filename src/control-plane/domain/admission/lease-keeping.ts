import type { Clock } from "../../../shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { Logger } from "../../../shared/logger.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";
import type { LeaseStore } from "../../store/leases/lease-store.js";
import type { ReportedUsage, UsageWindows } from "../oauth/usage-windows.js";
import { applySuccess, DEFAULT_STICKY_POLICY, responsePinKey } from "../scheduling/index.js";
import { type AttemptFailure, penaliseAccount } from "./account-penalty.js";
import { accountSlotKey } from "./account-picker.js";
import type { Directory } from "./directory.js";
import type { LeaseBook, LeaseRecord } from "./lease-book.js";
import type { LeaseTickets } from "./lease-ticket.js";

/** Slot key of a user. */
export const userSlotKey = (userId: string): string => `user:${userId}`;

/** Frees a lease's account slot and, when `user`, its user slot, in one store step: whether any was held. */
export async function freeLeaseSlots(
  leases: LeaseStore,
  record: LeaseRecord,
  user: boolean,
): Promise<boolean> {
  const keys = [
    ...(user ? [userSlotKey(record.userId)] : []),
    ...(record.accountId ? [accountSlotKey(record.accountId)] : []),
  ];
  const held = await leases.releaseAll(keys, record.leaseId);
  return held.some(Boolean);
}

/** A holder asking to keep its lease. */
export interface RenewInput {
  leaseId: string;
  /** The lease's latest ticket; empty when the caller has none (then a lost lease stays lost). */
  ticket: Uint8Array;
  /** The holder gave its user slot back already: only the account slot is counted again. */
  userSlotReleased: boolean;
}

/** A renewed (or re-asserted) lease. */
export interface Renewal {
  expiresAt: number;
  /** The record or a slot had been lost and was recreated. */
  reasserted: boolean;
}

/** How a request ended, for account health and response pins. */
export interface ReleaseInput {
  leaseId: string;
  /** Only the user slot (client gone, upstream still draining) or everything. */
  userSlotOnly: boolean;
  upstreamStatus: number;
  responseId: string;
  /** The request ended on a refusal of the lease's account that was not rerouted: penalise the account. */
  failure?: AttemptFailure;
  /** The holder's latest ticket: the slots are freed without reading the record. */
  ticket?: Uint8Array;
  /** The subscription usage windows the last attempt's upstream reported (ChatGPT accounts). */
  usage?: ReportedUsage;
}

/** Dependencies of {@link LeaseKeeping}. */
export interface LeaseKeepingDeps {
  directory: Directory;
  leases: LeaseStore;
  book: LeaseBook;
  tickets: LeaseTickets;
  affinity: ExpiringMap;
  clock: Clock;
  log: Logger;
  /** Keeps reported subscription usage windows; absent: reports are ignored. */
  windows?: UsageWindows;
}

/**
 * What happens to a granted lease until it ends: renewals (which re-assert a lease whose record or slots were lost
 * while its holder kept running — docs/adr/0004-lease-reassertion.md) and the release.
 */
export class LeaseKeeping {
  readonly #deps: LeaseKeepingDeps;

  constructor(deps: LeaseKeepingDeps) {
    this.#deps = deps;
  }

  /**
   * Extends the lease's slots. A lease whose slots expired, or whose record is gone (claimed as abandoned, or lost
   * with the store), is counted again from its ticket — above the limits if need be, so what runs upstream is what
   * is counted and new admits wait. A released lease is not revived: a renew racing the release writes the record
   * back only while there is no tombstone, and gives back what it re-asserted when there is one.
   */
  async renew(input: RenewInput): Promise<Renewal> {
    const entry = await this.#deps.book.read(input.leaseId);
    if (entry.state === "released") throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    const now = this.#deps.clock.now();
    const record = entry.state === "live" ? entry.record : this.#fromTicket(input, now);
    if (input.userSlotReleased) record.userSlotHeld = false;
    const [user, account] = await Promise.all([
      record.userSlotHeld
        ? this.#deps.leases.reassert(userSlotKey(record.userId), record.leaseId, record.ttlMs)
        : null,
      record.accountId
        ? this.#deps.leases.reassert(accountSlotKey(record.accountId), record.leaseId, record.ttlMs)
        : null,
    ]);
    record.expiresAt = now + record.ttlMs;
    if (!(await this.#deps.book.update(record))) {
      await freeLeaseSlots(this.#deps.leases, record, record.userSlotHeld);
      throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    }
    const reasserted = entry.state !== "live" || user === "recreated" || account === "recreated";
    if (reasserted) {
      this.#deps.log.info(
        { leaseId: record.leaseId, userId: record.userId, accountId: record.accountId },
        "lease re-asserted",
      );
    }
    return { expiresAt: record.expiresAt, reasserted };
  }

  /** Renews every lease of a holder that asks to count again; each failure stays with its lease. */
  async reassertAll(inputs: readonly RenewInput[]): Promise<number> {
    const results = await Promise.allSettled(inputs.map((input) => this.renew(input)));
    return results.filter((r) => r.status === "fulfilled").length;
  }

  #fromTicket(input: RenewInput, now: number): LeaseRecord {
    const record = input.ticket.length > 0 ? this.#deps.tickets.open(input.ticket, input.leaseId, now) : null;
    if (!record) throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    return record;
  }

  /** Frees the lease's slots; false when it had already ended. */
  async release(input: ReleaseInput): Promise<boolean> {
    if (!input.userSlotOnly && input.ticket && input.ticket.length > 0) {
      const sealed = this.#deps.tickets.open(input.ticket, input.leaseId, this.#deps.clock.now());
      if (sealed) {
        await this.#keepUsageWindows(sealed, input);
        return this.#releaseSealed(sealed, input);
      }
    }
    const record = await this.#deps.book.get(input.leaseId);
    if (!record) return false;
    await this.#keepUsageWindows(record, input);
    const userKey = userSlotKey(record.userId);
    if (input.userSlotOnly) {
      if (record.userSlotHeld) await this.#deps.leases.release(userKey, record.leaseId);
      record.userSlotHeld = false;
      await this.#deps.book.update(record);
      return true;
    }
    if (input.failure) await penaliseAccount(this.#deps, record, input.failure);
    await Promise.all([
      freeLeaseSlots(this.#deps.leases, record, record.userSlotHeld),
      this.#deps.book.markReleased(record),
    ]);
    await this.#afterSuccess(record, input);
    return true;
  }

  /**
   * The release of a lease its holder names by ticket: the record is replaced by its tombstone and the slots the
   * ticket names are freed, without reading the record first. The holder's ticket is its latest
   * (a reroute issues a new one), and freeing a slot the lease no longer holds is a no-op, so this frees exactly
   * what the record would have named. The slots are freed at the same time as the tombstone is written, not after
   * it: the next request's admit must find them free.
   */
  async #releaseSealed(record: LeaseRecord, input: ReleaseInput): Promise<boolean> {
    if (input.failure) await penaliseAccount(this.#deps, record, input.failure);
    const [held] = await Promise.all([
      freeLeaseSlots(this.#deps.leases, record, true),
      this.#deps.book.markReleased(record),
    ]);
    if (!held) return false;
    await this.#afterSuccess(record, input);
    return true;
  }

  /** The usage windows the upstream reported, kept on the account (a failure to keep them never fails a release). */
  async #keepUsageWindows(record: LeaseRecord, input: ReleaseInput): Promise<void> {
    if (!input.usage || !record.accountId || !this.#deps.windows) return;
    await this.#deps.windows.report(record.accountId, record.groupId, input.usage).catch((err: unknown) => {
      this.#deps.log.warn({ err, accountId: record.accountId }, "usage windows not recorded");
    });
  }

  async #afterSuccess(record: LeaseRecord, input: ReleaseInput): Promise<void> {
    if (record.accountId === null || input.upstreamStatus < 200 || input.upstreamStatus >= 300) return;
    const pinKey = responsePinKey(input.responseId);
    if (pinKey) await this.#deps.affinity.set(pinKey, record.accountId, DEFAULT_STICKY_POLICY.bindingTtlMs);
    const accounts = await this.#deps.directory.accountsOfGroup(record.groupId);
    const account = accounts.find((a) => a.view.id === record.accountId);
    if (account && account.health.serverErrorStreak > 0) {
      await this.#deps.directory.recordOutcome(account.view.id, applySuccess(account.health), {
        kind: "none",
      });
    }
  }
}
