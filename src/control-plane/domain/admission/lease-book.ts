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
  /** The ChatGPT account this request already retried with a refreshed token after a 401 (once per account). */
  tokenRetriedOn?: string;
}

/** A lease id's entry: a live record, a tombstone of a released lease, or nothing. */
export type LeaseEntry =
  | { state: "live"; record: LeaseRecord }
  | { state: "released" }
  | { state: "missing" };

/**
 * Lease records keyed by lease id (which is derived from the request, so a resent admit finds its record). A record
 * outlives its slots by `graceMs`, so a lease whose slots expired unreleased can still be told apart (and billed as
 * abandoned). A released lease leaves a tombstone for one TTL, so a renew that was already on its way cannot bring
 * it back from its ticket (docs/adr/0004-lease-reassertion.md). Tombstones live under their own prefix: the sweep of
 * live records (`all`) never reads them, so its cost follows the leases running, not the requests of the last TTL.
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

  /** Writes a new lease's record (or puts back one claimed in vain). */
  async put(record: LeaseRecord): Promise<void> {
    await this.#map.set(key(record.leaseId), JSON.stringify(record), this.#recordTtl(record));
  }

  /**
   * Writes a running lease's changed record unless the lease was released meanwhile (a renew or a reroute racing the
   * release): false, and nothing written, when its tombstone is there.
   */
  async update(record: LeaseRecord): Promise<boolean> {
    const id = record.leaseId;
    return this.#map.setUnless(key(id), JSON.stringify(record), this.#recordTtl(record), tombstoneKey(id));
  }

  #recordTtl(record: LeaseRecord): number {
    return Math.max(1, record.expiresAt - this.#clock.now()) + this.#graceMs;
  }

  /** The live record; null when there is none (never written, released, or claimed as abandoned). */
  async get(leaseId: string): Promise<LeaseRecord | null> {
    const entry = await this.read(leaseId);
    return entry.state === "live" ? entry.record : null;
  }

  /** The entry, telling a released lease from one that is merely unknown here. */
  async read(leaseId: string): Promise<LeaseEntry> {
    const [value = null, tombstone = null] = await this.#map.getMany([key(leaseId), tombstoneKey(leaseId)]);
    if (tombstone !== null || value === EARLIER_TOMBSTONE) return { state: "released" };
    const record = parse(value);
    return record ? { state: "live", record } : { state: "missing" };
  }

  /**
   * Replaces the record with a tombstone that lasts `ttlMs`. The tombstone is written first: a reader between the
   * two writes already sees the lease as released.
   */
  async markReleased(record: LeaseRecord): Promise<void> {
    await Promise.all([
      this.#map.set(tombstoneKey(record.leaseId), "1", Math.max(1, record.ttlMs)),
      this.#map.delete(key(record.leaseId)),
    ]);
  }

  /**
   * Removes the record only if it is still exactly `record` (no renew, reroute or release changed it since it was
   * read): true when this call removed it. What claims an abandoned lease uses, so a lease re-asserted meanwhile is
   * left alone.
   */
  async claim(record: LeaseRecord): Promise<boolean> {
    return this.#map.deleteIfEquals(key(record.leaseId), JSON.stringify(record));
  }

  /** Every live record (for AdminService.ListLeases and the abandoned-lease sweep); a scan, not for the hot path. */
  async *all(): AsyncIterable<LeaseRecord> {
    for await (const entry of this.#map.scan(LIVE_PREFIX)) {
      const record = parse(entry.value);
      if (record) yield record;
    }
  }
}

const LIVE_PREFIX = "lease:";

const key = (leaseId: string): string => `${LIVE_PREFIX}${leaseId}`;

const tombstoneKey = (leaseId: string): string => `released-lease:${leaseId}`;

/** The tombstone of the release before tombstones had their own prefix (found during a rolling upgrade). */
const EARLIER_TOMBSTONE = '{"released":true}';

/** A stored record; null for none, a tombstone, or an unreadable value. */
function parse(value: string | null): LeaseRecord | null {
  if (value === null || value === EARLIER_TOMBSTONE) return null;
  try {
    return JSON.parse(value) as LeaseRecord;
  } catch {
    return null;
  }
}
