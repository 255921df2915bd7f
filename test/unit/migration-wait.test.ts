import { describe, expect, it } from "vitest";
import {
  type MigrationWaitDeps,
  type MigrationWaitState,
  waitForMigrations,
} from "../../src/cli/migration-wait.js";
import { ManualClock } from "../../src/shared/clock.js";

/**
 * `switchyard migrate --wait` as the control plane's init container runs it: the answers the database gives, one per
 * check, on a manual clock (a pause moves the clock instead of sleeping).
 */
function harness(answers: Array<string[] | Error>, options: { timeoutMs?: number; stopAfter?: number } = {}) {
  const clock = new ManualClock(0);
  const stop = new AbortController();
  const reports: MigrationWaitState[] = [];
  const checkedAt: number[] = [];
  const deps: MigrationWaitDeps = {
    pending: async () => {
      checkedAt.push(clock.now());
      if (checkedAt.length === options.stopAfter) stop.abort();
      const answer = answers[Math.min(checkedAt.length - 1, answers.length - 1)] ?? [];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    clock,
    pause: async (ms) => clock.advance(ms),
    report: (state) => reports.push(state),
    timeoutMs: options.timeoutMs ?? 0,
    intervalMs: 500,
    signal: stop.signal,
  };
  return { deps, reports, checkedAt };
}

const ALL = ["0001-initial-schema", "0002-subscription-usage-index"];
const refused = Object.assign(new AggregateError([new Error("connect ECONNREFUSED 10.0.0.7:5432")], ""), {
  code: "ECONNREFUSED",
});

describe("waiting for migrations", () => {
  it("returns at once when the schema is current, saying nothing", async () => {
    const h = harness([[]]);
    expect(await waitForMigrations(h.deps)).toEqual({ ok: true });
    expect(h.reports).toEqual([]);
  });

  it("polls every interval until the migration Job has applied everything", async () => {
    const h = harness([ALL, ALL, ["0002-subscription-usage-index"], []]);
    expect(await waitForMigrations(h.deps)).toEqual({ ok: true });
    expect(h.checkedAt).toEqual([0, 500, 1000, 1500]);
    // One line per change, not one per check.
    expect(h.reports).toEqual([{ pending: ALL }, { pending: ["0002-subscription-usage-index"] }]);
  });

  it("counts a database that is not up yet as 'not yet', naming the first address's error", async () => {
    const h = harness([refused, refused, ALL, []]);
    expect(await waitForMigrations(h.deps)).toEqual({ ok: true });
    expect(h.reports).toEqual([{ unreachable: "connect ECONNREFUSED 10.0.0.7:5432" }, { pending: ALL }]);
  });

  it("gives up at the deadline with what it last saw", async () => {
    const h = harness([ALL], { timeoutMs: 1_200 });
    expect(await waitForMigrations(h.deps)).toEqual({ ok: false, reason: "timeout", last: { pending: ALL } });
    // Checks at 0, 500, 1000 and once more at the deadline itself.
    expect(h.checkedAt).toEqual([0, 500, 1000, 1200]);
  });

  it("stops when asked to (SIGTERM while the pod is deleted)", async () => {
    const h = harness([ALL], { stopAfter: 2 });
    expect(await waitForMigrations(h.deps)).toEqual({
      ok: false,
      reason: "interrupted",
      last: { pending: ALL },
    });
    expect(h.checkedAt).toHaveLength(2);
  });
});
