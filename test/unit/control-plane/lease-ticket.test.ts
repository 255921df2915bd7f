import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../../src/control-plane/domain/admission/lease-book.js";
import { LeaseTickets } from "../../../src/control-plane/domain/admission/lease-ticket.js";
import { leaseRecordOf } from "../../support/lease-records.js";

const secret = randomBytes(32);

const record = (leaseId: string): LeaseRecord => leaseRecordOf(leaseId, { sessionHash: "s" });

/** The ticket with one byte of its JSON body changed (the MAC left as it was). */
function altered(ticket: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(ticket);
  const at = Buffer.from(copy).indexOf("user-1") + 5;
  copy[at] = "2".charCodeAt(0);
  return copy;
}

describe("LeaseTickets", () => {
  it("opens its own tickets and those of another replica sharing the secret, with a fresh expiry", () => {
    const here = new LeaseTickets(secret);
    const there = new LeaseTickets(secret);
    const ticket = here.seal(record("l1"));
    expect(here.open(ticket, "l1", 99)).toEqual({ ...record("l1"), expiresAt: 99 });
    expect(there.open(ticket, "l1", 99)).toEqual({ ...record("l1"), expiresAt: 99 });
  });

  it("refuses an altered ticket, a ticket of another lease and one sealed under another secret", () => {
    const here = new LeaseTickets(secret);
    const ticket = here.seal(record("l1"));
    here.seal(record("l2"));
    // Altered, where this replica remembers the lease's ticket and where it does not.
    expect(here.open(altered(ticket), "l1", 0)).toBeNull();
    expect(new LeaseTickets(secret).open(altered(ticket), "l1", 0)).toBeNull();
    expect(here.open(ticket, "l2", 0)).toBeNull();
    expect(new LeaseTickets(randomBytes(32)).open(ticket, "l1", 0)).toBeNull();
  });

  it("opens a remembered ticket into a copy: changing what it answered changes nothing for the next open", () => {
    const here = new LeaseTickets(secret);
    const ticket = here.seal(record("l1"));
    const opened = here.open(ticket, "l1", 0);
    if (opened) opened.userSlotHeld = false;
    expect(here.open(ticket, "l1", 0)?.userSlotHeld).toBe(true);
  });

  it("opens a ticket superseded by a reroute's newer one only through its MAC, and both stay valid", () => {
    const here = new LeaseTickets(secret);
    const first = here.seal(record("l1"));
    const second = here.seal({ ...record("l1"), attempt: 2, accountId: "account-2" });
    expect(here.open(first, "l1", 0)?.attempt).toBe(1);
    expect(here.open(second, "l1", 0)?.accountId).toBe("account-2");
  });

  it("forgets a lease's ticket at its last use (the usage report), which still opens it", () => {
    const here = new LeaseTickets(secret);
    const tickets = [1, 2, 3].map((n) => here.seal(record(`l${n}`)));
    expect(here.remembered).toBe(3);
    expect(here.open(tickets[0] as Uint8Array, "l1", 0)).not.toBeNull();
    expect(here.remembered).toBe(3);
    expect(here.open(tickets[0] as Uint8Array, "l1", 0, { lastUse: true })?.leaseId).toBe("l1");
    expect(here.remembered).toBe(2);
    // After its last use a ticket is still authentic: a retried report opens it through its MAC.
    expect(here.open(tickets[0] as Uint8Array, "l1", 0, { lastUse: true })?.leaseId).toBe("l1");
  });
});
