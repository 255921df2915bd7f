import type { LeaseRecord } from "../../src/control-plane/domain/admission/lease-book.js";

/** A running lease's record for tests: one attempt on account "account-1", both slots held, a 30 s TTL. */
export function leaseRecordOf(leaseId: string, fields: Partial<LeaseRecord> = {}): LeaseRecord {
  const acquiredAt = fields.acquiredAt ?? 1_000;
  const ttlMs = fields.ttlMs ?? 30_000;
  return {
    leaseId,
    requestId: `req_${leaseId}`,
    instanceId: "dp-1",
    userId: "user-1",
    keyId: "key-1",
    groupId: "group-1",
    model: "gpt-4o",
    stream: true,
    endpoint: 1,
    sessionHash: "",
    accountId: "account-1",
    upstreamModel: "gpt-4o",
    attempt: 1,
    sticky: false,
    userSlotHeld: true,
    acquiredAt,
    expiresAt: acquiredAt + ttlMs,
    ttlMs,
    ...fields,
  };
}
