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
 * it back from its ticket (docs/adr/0004-lease-reassertion.md).
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
    await this.#map.set(key(record.leaseId), JSON.stringify(record), ttl);
  }

  /** The live record; null when there is none (never written, released, or claimed as abandoned). */
  async get(leaseId: string): Promise<LeaseRecord | null> {
    const entry = await this.read(leaseId);
    return entry.state === "live" ? entry.record : null;
  }

  /** The entry, telling a released lease from one that is merely unknown here. */
  async read(leaseId: string): Promise<LeaseEntry> {
    return parse(await this.#map.get(key(leaseId)));
  }

  /** Replaces the record with a tombstone that lasts `ttlMs`. */
  async markReleased(record: LeaseRecord): Promise<void> {
    await this.#map.set(key(record.leaseId), TOMBSTONE, Math.max(1, record.ttlMs));
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
    for await (const entry of this.#map.scan("lease:")) {
      const parsed = parse(entry.value);
      if (parsed.state === "live") yield parsed.record;
    }
  }
}

const TOMBSTONE = '{"released":true}';

const key = (leaseId: string): string => `lease:${leaseId}`;

function parse(value: string | null): LeaseEntry {
  if (value === null) return { state: "missing" };
  if (value === TOMBSTONE) return { state: "released" };
  try {
    return { state: "live", record: JSON.parse(value) as LeaseRecord };
  } catch {
    return { state: "missing" };
  }
}
