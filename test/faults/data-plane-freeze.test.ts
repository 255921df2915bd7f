import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { type SlotKey, slotHolders } from "./support/lease-slots.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, listLeases, seedTenant, type Tenant, waitForUsage } from "./support/tenants.js";
import { complete, type OpenStream, openStream } from "./support/traffic.js";

const SCENARIO = "data plane frozen";
const TTL_MS = 6_000;
/** The user's concurrency: all of it streams through the data plane that freezes. */
const STREAMS = sized({ reduced: 4, full: 12 });
/** Slots of a silent holder come back at most one TTL after its last renewal; the margin covers a busy machine. */
const RECOVERY_MARGIN_MS = 2_000;

function slotKeys(tenant: Tenant): SlotKey[] {
  return [`user:${tenant.userId}`, ...tenant.accounts.map((a): SlotKey => `account:${a.id}`)];
}

/**
 * A data plane that stops (SIGSTOP: a stalled VM, a long GC pause, a partition) keeps its connections and answers
 * nothing: the control plane cannot tell it from a dead one, and its leases lapse. When it resumes, its streams go
 * on where they stopped, and what it reports must fit with what was decided while it was silent.
 */
describe("when a data plane freezes (SIGSTOP) with streams in flight for longer than the lease TTL", () => {
  let stack: FaultStack;
  let admin: Admin;
  let frozen: SwitchyardProcess;
  let other: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({ label: "dp-freeze", leaseTtlMs: TTL_MS });
    admin = stack.adminOf();
    frozen = await stack.startDataPlane({ name: "frozen" });
    other = await stack.startDataPlane({ name: "other" });
  });
  afterAll(() => {
    frozen?.thaw(); // a failure while frozen must not leave it stopped
    return stack?.stop();
  });

  it("gives its slots to others within the TTL, finishes its streams when it resumes, and bills each request once", async () => {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, {
      fake,
      userConcurrency: STREAMS,
      accounts: [{ concurrency: STREAMS }, { concurrency: STREAMS }],
    });
    // Streams that outlast the freeze (~15 s), then short ones.
    fake.script({ text: "x".repeat(150), events: 150, eventDelayMs: 100, times: STREAMS });
    fake.script({ text: "y".repeat(10), events: 10, eventDelayMs: 50 });
    const held: OpenStream[] = await Promise.all(
      Array.from({ length: STREAMS }, () => openStream(frozen.url, tenant.key)),
    );
    expect(await listLeases(admin, tenant.userId)).toHaveLength(STREAMS);

    const frozenAt = Date.now();
    frozen.freeze();
    // The user asks for its whole concurrency through the other data plane: it waits until the silent leases lapse.
    const elsewhere = Promise.all(
      Array.from({ length: STREAMS }, () => complete(other.url, tenant.key, "responses")),
    );
    await waitFor(() => fake.requests.filter((r) => r.receivedAt >= frozenAt).length >= STREAMS, {
      timeoutMs: TTL_MS * 3,
      intervalMs: 20,
      what: "the user's whole concurrency admitted through the other data plane",
    });
    const slotsBackMs = Date.now() - frozenAt;
    const answeredElsewhere = await elsewhere;

    await until(frozenAt + 2 * TTL_MS);
    frozen.thaw();
    const thawedAt = Date.now();
    const finished = await Promise.all(held.map((s) => s.reader.readToEnd()));
    const heldIds = held.map((s) => s.requestId);
    const records = await waitForUsage(
      admin,
      tenant.userId,
      (r) =>
        r.filter((x) => heldIds.includes(x.requestId) && x.outcome === Outcome.COMPLETED).length ===
          STREAMS && r.length >= 2 * STREAMS,
      TTL_MS * 5,
    );
    const billedMs = Date.now() - thawedAt;
    const ofHeld = records.filter((r) => heldIds.includes(r.requestId));
    const duplicates = records.length - new Set(records.map((r) => r.requestId)).size;

    // Once every stream has ended, nothing is left behind.
    await waitFor(async () => (await listLeases(admin, tenant.userId)).length === 0, {
      timeoutMs: TTL_MS * 3,
      what: "no lease left",
    });
    const holdersLeft = await slotHolders(stack.redis, slotKeys(tenant));
    fake.reset();
    fake.script({ text: "z".repeat(10), events: 10, eventDelayMs: 100 }); // ~1 s each: all of them at once
    const again = await Promise.all(
      Array.from({ length: STREAMS }, () => complete(other.url, tenant.key, "responses")),
    );

    recordFigures(SCENARIO, {
      "streams on the frozen data plane": STREAMS,
      "lease TTL (ms)": TTL_MS,
      "frozen (ms)": thawedAt - frozenAt,
      "slots back, freeze → the user's whole concurrency admitted elsewhere (ms)": slotsBackMs,
      "streams that finished after the thaw": finished.filter((f) => f.at(-1)?.event === "response.completed")
        .length,
      "its requests billed with their real tokens": ofHeld.filter(
        (r) => r.outcome === Outcome.COMPLETED && (r.tokens?.outputTokens ?? 0) > 0,
      ).length,
      "thaw → every record written (its streams run to their end first) (ms)": billedMs,
      "duplicate usage records": duplicates,
      "slot holders left in Redis afterwards (leaked slots)": holdersLeft,
    });
    expect(slotsBackMs).toBeLessThanOrEqual(TTL_MS + RECOVERY_MARGIN_MS);
    expect(answeredElsewhere.map((a) => a.status)).toEqual(Array(STREAMS).fill(200));
    expect(finished.every((frames) => frames.at(-1)?.event === "response.completed")).toBe(true);
    // Billed abandoned while it was silent, then replaced by its real report: once, with its real tokens.
    expect(ofHeld).toHaveLength(STREAMS);
    for (const r of ofHeld) {
      expect(r.outcome).toBe(Outcome.COMPLETED);
      expect(r.tokens?.outputTokens).toBeGreaterThan(0);
    }
    expect(records).toHaveLength(2 * STREAMS);
    expect(duplicates).toBe(0);
    expect(holdersLeft).toBe(0);
    expect(again.map((a) => a.status)).toEqual(Array(STREAMS).fill(200));
    expect(fake.maxInFlight).toBe(STREAMS);
  });
});
