import { Writable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { UsageReporter } from "../../src/data-plane/control/usage-reporter.js";
import type { UsageReport } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

/** A reporter that sends at once (1 ms linger), and the request ids it sent. */
function recordingReporter(): { reporter: UsageReporter; sent: string[] } {
  const sent: string[] = [];
  const reporter = new UsageReporter({
    log,
    lingerMs: 1,
    send: async (records: UsageReport[]) => {
      sent.push(...records.map((r) => r.requestId));
    },
  });
  return { reporter, sent };
}

/** Conditions are waited for, not timed: a loaded machine may run timers late. */
const WAIT = { timeout: 10_000 };

describe("the usage reporter", () => {
  it("sends a lone record after its linger and later ones in batches", async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const reporter = new UsageReporter({
      log,
      batchSize: 3,
      lingerMs: 5,
      send: async (records: UsageReport[]) => {
        batches.push(records.map((r) => r.requestId));
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
      },
    });
    reporter.report({ requestId: "r1" });
    expect(batches).toEqual([]);
    await vi.waitFor(() => expect(batches).toEqual([["r1"]]), WAIT);
    for (const id of ["r2", "r3", "r4", "r5"]) reporter.report({ requestId: id });
    release();
    expect(await reporter.flush(1_000)).toBe(0);
    expect(batches).toEqual([["r1"], ["r2", "r3", "r4"], ["r5"]]);
  });

  it("keeps records while the control plane is away and sends them when it returns", async () => {
    let up = false;
    const delivered: string[] = [];
    const reporter = new UsageReporter({
      log,
      retryMinMs: 10,
      retryMaxMs: 20,
      send: async (records: UsageReport[]) => {
        if (!up) throw new Error("unavailable");
        delivered.push(...records.map((r) => r.requestId));
      },
    });
    reporter.report({ requestId: "a" });
    reporter.report({ requestId: "b" });
    await new Promise((r) => setTimeout(r, 50));
    expect(delivered).toEqual([]);
    expect(reporter.depth).toBe(2);
    up = true;
    expect(await reporter.flush(1_000)).toBe(0);
    expect(delivered).toEqual(["a", "b"]);
  });

  it("drops the oldest records past its bound and counts them", async () => {
    const reporter = new UsageReporter({ log, maxQueued: 2, send: () => new Promise(() => {}) });
    for (const id of ["a", "b", "c", "d"]) reporter.report({ requestId: id });
    expect(reporter.depth).toBe(2);
    expect(reporter.dropped).toBe(2);
  });

  it("sends nothing more for a record its release carried and the control plane wrote", async () => {
    const { reporter, sent } = recordingReporter();
    const carried: string[] = [];
    reporter.carry({ requestId: "written" }, async (usage) => {
      carried.push(usage.requestId);
      return true;
    });
    expect(await reporter.flush(1_000)).toBe(0);
    expect(carried).toEqual(["written"]);
    expect(sent).toEqual([]);
  });

  it("reports a carried record again when its release did not write it, failed, or is still on its way", async () => {
    const { reporter, sent } = recordingReporter();
    // A control plane that could not write it (or predates carried usage: usage_recorded is false).
    reporter.carry({ requestId: "not-written" }, async () => false);
    // A release that failed (the control plane was away past the release's deadline).
    reporter.carry({ requestId: "release-failed" }, async () => {
      throw new Error("unavailable");
    });
    // A release answered only after a while: flush waits for it, then sends what it did not write.
    let answer: (written: boolean) => void = () => {};
    reporter.carry({ requestId: "slow" }, () => new Promise<boolean>((resolve) => (answer = resolve)));
    const flushed = reporter.flush(10_000);
    await vi.waitFor(() => expect(sent.sort()).toEqual(["not-written", "release-failed"]), WAIT);
    answer(false);
    expect(await flushed).toBe(0);
    expect(sent.sort()).toEqual(["not-written", "release-failed", "slow"]);
  });
});
