import type { Clock } from "../../../shared/clock.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";

/** A live lease as the control plane remembers it between operations. */
export interface LeaseRecord {
  leaseId: string;
  requestId: string;
  instanceId: string;
  userId: string;
  keyId: string;
  groupId: string;
  model: string;
  stream: boolean;
  endpoint: number;
  sessionHash: string;
  /** The account of the current attempt; null between a failed attempt and the next slot. */
  accountId: string | null;
  upstreamModel: string;
  attempt: number;
  sticky: boolean;
  /** Whether the user slot is still held (a USER_SLOT release frees it while the upstream drains). */
  userSlotHeld: boolean;
  acquiredAt: number;
  expiresAt: number;
  ttlMs: number;
}

/**
 * Lease records keyed by lease id (which is derived from the request, so a resent admit finds its record). A record
 * outlives its slots by `graceMs`, so a lease whose slots expired unreleased can still be told apart (and billed as
 * abandoned).
 */
export class LeaseBook {
  readonly #map: ExpiringMap;
  readonly #clock: Clock;
  readonly #graceMs: number;

  constructor(map: ExpiringMap, clock: Clock, graceMs = 120_000) {
    this.#map = map;
    this.#clock = clock;
    this.#graceMs = graceMs;
  }

  async put(record: LeaseRecord): Promise<void> {
    const ttl = Math.max(1, record.expiresAt - this.#clock.now()) + this.#graceMs;
    await this.#map.set(`lease:${record.leaseId}`, JSON.stringify(record), ttl);
  }

  async get(leaseId: string): Promise<LeaseRecord | null> {
    return parse(await this.#map.get(`lease:${leaseId}`));
  }

  /** True when this call removed the record (false when it was already gone). */
  async delete(record: LeaseRecord): Promise<boolean> {
    return this.#map.delete(`lease:${record.leaseId}`);
  }

  /** Every live record (for AdminService.ListLeases); a scan, not for the hot path. */
  async *all(): AsyncIterable<LeaseRecord> {
    for await (const entry of this.#map.scan("lease:")) {
      const record = parse(entry.value);
      if (record) yield record;
    }
  }
}

function parse(value: string | null): LeaseRecord | null {
  if (value === null) return null;
  try {
    return JSON.parse(value) as LeaseRecord;
  } catch {
    return null;
  }
}
