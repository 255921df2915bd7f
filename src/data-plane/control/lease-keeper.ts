import { create } from "@bufbuild/protobuf";
import {
  type Lease,
  type ReassertLeases,
  ReassertLeasesSchema,
  type RenewRequest,
  RenewRequestSchema,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { asSwitchyardError, ErrorCode } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { ControlPlaneCalls } from "./lease-channel.js";

/** A lease this data plane is running a request on. */
export interface HeldLease {
  /** The lease moved to another account (a reroute): renew that one from now on. */
  update(lease: Lease): void;
  /** The user slot was given back (the client left; the upstream drains): only the account slot is renewed. */
  userSlotReleased(): void;
  /** The request ended: stop renewing (the release follows). */
  end(): void;
}

interface Entry {
  lease: Lease;
  userSlotReleased: boolean;
  /** When to renew next (performance.now() ms). */
  dueAt: number;
}

/** Settings of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  log: Logger;
  /** How often due renewals are looked for (ms). */
  tickMs?: number;
}

/**
 * Keeps this data plane's live leases alive (docs/adr/0004-lease-reassertion.md): each is renewed every third of
 * its TTL, with its ticket, so a lease the control plane lost (an outage longer than the TTL, a lease-store restart)
 * is counted again at the next renew; and the whole set is re-asserted at once whenever a lease channel (re)opens or
 * the control plane asks — before anything new is admitted — so what runs upstream is what is counted.
 */
export class LeaseKeeper {
  readonly #log: Logger;
  readonly #tickMs: number;
  readonly #held = new Map<string, Entry>();
  #channel: ControlPlaneCalls | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failing = false;

  constructor(options: LeaseKeeperOptions) {
    this.#log = options.log;
    this.#tickMs = options.tickMs ?? 1_000;
  }

  /** Starts renewing over `channel`. */
  start(channel: ControlPlaneCalls): void {
    this.#channel = channel;
    this.#timer ??= setInterval(() => this.#renewDue(), this.#tickMs);
    this.#timer.unref();
  }

  /** Stops renewing. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Leases held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Leases held now by group (read when metrics are scraped, not on the request path). */
  heldByGroup(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { lease } of this.#held.values()) {
      const group = lease.principal?.groupId ?? "";
      counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    return counts;
  }

  /** Starts keeping `lease` alive until the returned handle's `end`. */
  hold(lease: Lease): HeldLease {
    let entry: Entry = { lease, userSlotReleased: false, dueAt: this.#dueAfter(lease) };
    this.#held.set(lease.leaseId, entry);
    return {
      update: (next) => {
        this.#held.delete(entry.lease.leaseId);
        entry = { ...entry, lease: next, dueAt: this.#dueAfter(next) };
        this.#held.set(next.leaseId, entry);
      },
      userSlotReleased: () => {
        entry.userSlotReleased = true;
      },
      end: () => {
        if (this.#held.get(entry.lease.leaseId) === entry) this.#held.delete(entry.lease.leaseId);
      },
    };
  }

  /** Every held lease as a renew, for the channel to re-assert (on open, and when the control plane asks). */
  reassertion(): ReassertLeases {
    const now = performance.now();
    for (const entry of this.#held.values()) entry.dueAt = this.#dueAfter(entry.lease, now);
    return create(ReassertLeasesSchema, { leases: [...this.#held.values()].map(renewOf) });
  }

  #dueAfter(lease: Lease, now = performance.now()): number {
    return now + (lease.ttlMs || 30_000) / 3;
  }

  #renewDue(): void {
    const channel = this.#channel;
    if (!channel?.connected) return;
    const now = performance.now();
    for (const entry of this.#held.values()) {
      if (entry.dueAt > now) continue;
      entry.dueAt = this.#dueAfter(entry.lease, now);
      const ttl = entry.lease.ttlMs || 30_000;
      channel.call("renew", renewOf(entry), { timeoutMs: ttl / 3 }).then(
        () => this.#renewed(),
        (err: unknown) => this.#renewFailed(entry, err),
      );
    }
  }

  #renewed(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info("lease renewals succeed again");
  }

  /** Logged once per run of failures; a lease that is gone for good (released meanwhile) is not an outage. */
  #renewFailed(entry: Entry, err: unknown): void {
    const failure = asSwitchyardError(err);
    if (failure.code === ErrorCode.LEASE_NOT_FOUND) {
      this.#log.debug({ leaseId: entry.lease.leaseId }, "lease no longer known to the control plane");
      return;
    }
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn({ err: failure, leaseId: entry.lease.leaseId }, "lease renewals failing; will re-assert");
  }
}

function renewOf(entry: Entry): RenewRequest {
  return create(RenewRequestSchema, {
    leaseId: entry.lease.leaseId,
    ticket: entry.lease.ticket,
    userSlotReleased: entry.userSlotReleased,
  });
}
