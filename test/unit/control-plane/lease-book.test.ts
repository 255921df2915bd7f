import { describe, expect, it } from "vitest";
import { LeaseBook, type LeaseRecord } from "../../../src/control-plane/domain/admission/lease-book.js";
import { MemoryExpiringMap } from "../../../src/control-plane/store/kv/memory-expiring-map.js";
import { ManualClock } from "../../../src/shared/clock.js";
import { leaseRecordOf } from "../../support/lease-records.js";

const TTL_MS = 30_000;

function record(leaseId: string, now: number): LeaseRecord {
  return leaseRecordOf(leaseId, { acquiredAt: now, ttlMs: TTL_MS });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("LeaseBook", () => {
  it("tells live, released and unknown leases apart", async () => {
    const clock = new ManualClock(1_000_000);
    const book = new LeaseBook(new MemoryExpiringMap(clock), clock);
    const live = record("live", clock.now());
    const gone = record("gone", clock.now());
    await Promise.all([book.put(live), book.put(gone)]);
    await book.markReleased(gone);

    expect(await book.read("live")).toEqual({ state: "live", record: live });
    expect(await book.read("gone")).toEqual({ state: "released" });
    expect(await book.read("never")).toEqual({ state: "missing" });
    expect(await book.get("gone")).toBeNull();
    expect(await book.get("live")).toEqual(live);
  });

  it("keeps tombstones out of the sweep: only running leases are read, however many were released", async () => {
    const clock = new ManualClock(1_000_000);
    const map = new MemoryExpiringMap(clock);
    const book = new LeaseBook(map, clock);
    const released = Array.from({ length: 50 }, (_, i) => record(`done-${i}`, clock.now()));
    for (const r of released) await book.put(r);
    await Promise.all(released.map((r) => book.markReleased(r)));
    await book.put(record("running", clock.now()));

    expect((await collect(book.all())).map((r) => r.leaseId)).toEqual(["running"]);
    // The sweep scans the live prefix: the 50 tombstones are not among what it reads.
    expect((await collect(map.scan("lease:"))).map((e) => e.key)).toEqual(["lease:running"]);
  });

  it("reads a tombstone of the earlier layout (kept under the record's key) as released", async () => {
    const clock = new ManualClock(1_000_000);
    const map = new MemoryExpiringMap(clock);
    const book = new LeaseBook(map, clock);
    await map.set("lease:old", '{"released":true}', TTL_MS);

    expect(await book.read("old")).toEqual({ state: "released" });
    expect(await collect(book.all())).toEqual([]);
  });
});
