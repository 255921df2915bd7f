import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountSlotKey } from "../../src/control-plane/domain/admission/account-picker.js";
import type { Directory } from "../../src/control-plane/domain/admission/directory.js";
import { LeaseBook, type LeaseRecord } from "../../src/control-plane/domain/admission/lease-book.js";
import { LeaseKeeping, userSlotKey } from "../../src/control-plane/domain/admission/lease-keeping.js";
import { LeaseTickets } from "../../src/control-plane/domain/admission/lease-ticket.js";
import { RedisExpiringMap } from "../../src/control-plane/store/kv/redis-expiring-map.js";
import { RedisLeaseStore } from "../../src/control-plane/store/leases/redis-lease-store.js";
import { systemClock } from "../../src/shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { testLogger } from "../support/control-plane.js";
import { leaseRecordOf } from "../support/lease-records.js";

const REDIS = { host: "127.0.0.1", port: 6379 };
const TTL_MS = 30_000;
const prefix = `sytest:race:${randomBytes(4).toString("hex")}:`;
const redis = new Redis(REDIS);
let leases: RedisLeaseStore;
let book: LeaseBook;
let tickets: LeaseTickets;
let keeping: LeaseKeeping;

beforeAll(async () => {
  leases = await RedisLeaseStore.open({ connection: REDIS, keyPrefix: `${prefix}lease:` });
  const kv = new RedisExpiringMap(redis, `${prefix}kv:`);
  book = new LeaseBook(kv, systemClock);
  tickets = new LeaseTickets(randomBytes(32));
  keeping = new LeaseKeeping({
    // Not reached: releases here carry no 2xx status, so nothing reads accounts.
    directory: {} as Directory,
    leases,
    book,
    tickets,
    affinity: kv,
    clock: systemClock,
    log: testLogger(),
  });
});

afterAll(async () => {
  await leases.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** A running lease: both slots held, its record written, its ticket sealed. */
async function runningLease(n: number): Promise<{ record: LeaseRecord; ticket: Uint8Array }> {
  const tag = randomBytes(4).toString("hex");
  const record = leaseRecordOf(`lse_race_${n}_${tag}`, {
    instanceId: "dp-race",
    userId: `user-${tag}`,
    accountId: `account-${tag}`,
    acquiredAt: Date.now(),
    ttlMs: TTL_MS,
  });
  const pair = await leases.acquirePair({
    holder: record.leaseId,
    ttlMs: TTL_MS,
    first: { key: userSlotKey(record.userId), limit: 1 },
    choices: [{ key: accountSlotKey(record.accountId ?? ""), limit: 1, rank: 0 }],
  });
  expect(pair.granted).toBe(true);
  await book.put(record);
  return { record, ticket: tickets.seal(record) };
}

describe("a renew racing the release of its lease", () => {
  it("never brings the lease back: no record and no slot holder are left, whichever lands first", async () => {
    for (let n = 0; n < 20; n++) {
      const { record, ticket } = await runningLease(n);
      // The keeper's renew was on its way when the request finished: both reach the control plane together.
      const [renewed, released] = await Promise.allSettled([
        keeping.renew({ leaseId: record.leaseId, ticket, userSlotReleased: false }),
        keeping.release({
          leaseId: record.leaseId,
          userSlotOnly: false,
          upstreamStatus: 0,
          responseId: "",
          ticket,
        }),
      ]);
      expect(released).toEqual({ status: "fulfilled", value: true });
      if (renewed.status === "rejected") {
        expect(renewed.reason).toBeInstanceOf(SwitchyardError);
        expect((renewed.reason as SwitchyardError).code).toBe(ErrorCode.LEASE_NOT_FOUND);
      }
      const keys = [userSlotKey(record.userId), accountSlotKey(record.accountId ?? "")];
      const loads = await leases.loads(keys);
      expect([...loads.values()].map((l) => l.inUse)).toEqual([0, 0]);
      expect(await book.read(record.leaseId)).toEqual({ state: "released" });
    }
  });
});
