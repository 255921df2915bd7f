import { createHash, randomBytes, randomFillSync, randomUUID } from "node:crypto";

/**
 * Id generation. Request and lease ids are random, URL-safe and prefixed so a reader knows what an id names;
 * entity ids are UUIDs (PostgreSQL `uuid`).
 */

/** Random bytes drawn at once for many request ids: one call into the CSPRNG per 256 ids, not one per id. */
const REQUEST_ID_POOL = Buffer.alloc(16 * 256);
let requestIdOffset = REQUEST_ID_POOL.length;

/** A client request's id (also its x-request-id and the admit idempotency key): "req_" + 22 base64url chars. */
export function newRequestId(): string {
  if (requestIdOffset === REQUEST_ID_POOL.length) {
    randomFillSync(REQUEST_ID_POOL);
    requestIdOffset = 0;
  }
  const start = requestIdOffset;
  requestIdOffset += 16;
  return `req_${REQUEST_ID_POOL.toString("base64url", start, requestIdOffset)}`;
}

/**
 * The lease id of a data plane's request: "lse_" + 22 base64url chars of SHA-256(instance, request id). Derived,
 * not random, so an admit sent again after a reconnect names the same lease and takes no second slot.
 */
export function leaseIdFor(instanceId: string, requestId: string): string {
  return `lse_${createHash("sha256").update(`${instanceId}\0${requestId}`).digest("base64url").slice(0, 22)}`;
}

/** A data-plane or control-plane instance id: the host name plus a random suffix, stable for the process. */
export function newInstanceId(hostname: string): string {
  return `${hostname}-${randomBytes(4).toString("hex")}`;
}

/** A durable entity's id. */
export function newEntityId(): string {
  return randomUUID();
}

/** Whether a client-supplied request id is safe to adopt (bounded, printable, no separators that break logs). */
export function isAcceptableRequestId(value: string): boolean {
  return /^[A-Za-z0-9_.:-]{8,128}$/.test(value);
}
