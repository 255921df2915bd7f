import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { LeaseRecord } from "./lease-book.js";

const VERSION = 1;
const MAC_BYTES = 32;

/** What a ticket carries: the lease record without its expiry (a re-assert starts a fresh TTL). */
type TicketFields = Omit<LeaseRecord, "expiresAt">;

/**
 * Tickets this replica sealed and whose usage report has not come yet, remembered so opening them again costs a
 * comparison; at most this many (the oldest go first: leases abandoned, or reported to another replica).
 */
const REMEMBERED_TICKETS = 1024;

/**
 * Seals lease records into tickets the data plane keeps and sends back when it renews, so any replica can count a
 * lease again after its record and slots were lost (docs/adr/0004-lease-reassertion.md). A ticket is the record as
 * JSON with an HMAC-SHA256 under a key derived from the control plane's secret: data planes hold it but cannot
 * forge or alter one, so identity still flows one way — from the control plane. The tickets sealed last are
 * remembered until their lease's usage report (their last use): the release and the report of a lease usually come
 * back to the replica that granted it, and a ticket byte-for-byte equal to one sealed here needs no MAC or parse to
 * open.
 */
export class LeaseTickets {
  readonly #key: Buffer;
  readonly #sealed = new Map<string, { ticket: Uint8Array; fields: TicketFields }>();

  /** `secret` is the control plane's credential key (SWITCHYARD_SECRET_KEY); a dedicated key is derived from it. */
  constructor(secret: Uint8Array) {
    this.#key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "switchyard lease ticket v1", 32));
  }

  /** The ticket for a record's current state. */
  seal(record: LeaseRecord): Uint8Array {
    const { expiresAt: _expiresAt, ...fields } = record;
    const payload = Buffer.from(JSON.stringify(fields), "utf8");
    const body = Buffer.concat([Buffer.of(VERSION), payload]);
    const ticket = Buffer.concat([body, this.#mac(body)]);
    this.#remember(record.leaseId, ticket, fields);
    return ticket;
  }

  /**
   * The record a ticket carries, if it is authentic and names `leaseId`; null otherwise. `lastUse` (the usage report)
   * forgets the lease's remembered ticket.
   */
  open(
    ticket: Uint8Array,
    leaseId: string,
    expiresAt: number,
    options: { lastUse?: boolean } = {},
  ): LeaseRecord | null {
    if (ticket.length <= 1 + MAC_BYTES || ticket[0] !== VERSION) return null;
    const bytes = Buffer.from(ticket.buffer, ticket.byteOffset, ticket.byteLength);
    const sealed = this.#sealed.get(leaseId);
    if (options.lastUse) this.#sealed.delete(leaseId);
    if (sealed && sealed.ticket.length === bytes.length && timingSafeEqual(sealed.ticket, bytes)) {
      return { ...sealed.fields, expiresAt };
    }
    const body = bytes.subarray(0, bytes.length - MAC_BYTES);
    if (!timingSafeEqual(bytes.subarray(bytes.length - MAC_BYTES), this.#mac(body))) return null;
    let fields: TicketFields;
    try {
      fields = JSON.parse(body.subarray(1).toString("utf8")) as TicketFields;
    } catch {
      return null;
    }
    if (fields.leaseId !== leaseId) return null;
    return { ...fields, expiresAt };
  }

  /** Tickets remembered now (for tests and metrics). */
  get remembered(): number {
    return this.#sealed.size;
  }

  #remember(leaseId: string, ticket: Buffer, fields: TicketFields): void {
    this.#sealed.delete(leaseId);
    // A copy with its own memory: a small Buffer is a view of a shared 8 KB slab, which it would keep alive.
    this.#sealed.set(leaseId, { ticket: new Uint8Array(ticket), fields });
    if (this.#sealed.size > REMEMBERED_TICKETS) {
      const oldest = this.#sealed.keys().next().value;
      if (oldest !== undefined) this.#sealed.delete(oldest);
    }
  }

  #mac(body: Buffer): Buffer {
    return createHmac("sha256", this.#key).update(body).digest();
  }
}
