import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import type { FakeOpenAI } from "../support/fake-openai/index.js";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { type SlotKey, slotHolders } from "./support/lease-slots.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import {
  type Admin,
  listLeases,
  listUsage,
  seedTenant,
  type Tenant,
  waitForUsage,
} from "./support/tenants.js";
import { complete, type OpenStream, openStream, requestBody } from "./support/traffic.js";

const SCENARIO = "data-plane crash";
const TTL_MS = 6_000;
/** Requests a data plane under load answers before it is killed, and the clients sending them. */
const ANSWERED = sized({
  reduced: { beforeKill: 150, clients: 8 },
  full: { beforeKill: 1_000, clients: 16 },
});
/** Users with streams on the killed data plane, and streams per user (each user's whole concurrency). */
const SIZE = sized({ reduced: { users: 1, streams: 4 }, full: { users: 3, streams: 16 } });
/**
 * Slots of a crashed holder come back when its lease expires: at most one TTL after its last renewal, so at most
 * one TTL after the kill. The margin covers the waiter's wake-up and its request reaching the upstream on a
 * loaded 2-core machine.
 */
const RECOVERY_MARGIN_MS = 2_000;

/** A user of the scenario: all its accounts point at its own fake, so the fake counts the user's streams. */
interface Subject {
  tenant: Tenant;
  fake: FakeOpenAI;
  killed: OpenStream[];
}

/** Long upstream streams for the requests that die with the data plane, short ones (2 s) afterwards. */
function scriptUpstream(fake: FakeOpenAI, doomed: number): void {
  fake.script({ text: "x".repeat(600), events: 600, eventDelayMs: 100, times: doomed });
  fake.script({ text: "y".repeat(20), events: 20, eventDelayMs: 100 });
}

function slotKeys(tenant: Tenant): SlotKey[] {
  return [`user:${tenant.userId}`, ...tenant.accounts.map((a): SlotKey => `account:${a.id}`)];
}

/** Sends the user's whole concurrency through `dp` at once; resolves when all the answers are read. */
function fullBatch(dp: SwitchyardProcess, tenant: Tenant) {
  return Promise.all(Array.from({ length: SIZE.streams }, () => complete(dp.url, tenant.key, "responses")));
}

describe("when a data plane is killed (kill -9) with streams in flight", () => {
  let stack: FaultStack;
  let admin: Admin;
  let victim: SwitchyardProcess;
  let survivor: SwitchyardProcess;

  beforeAll(async () => {
    stack = await FaultStack.start({ label: "dp-crash", leaseTtlMs: TTL_MS });
    admin = stack.adminOf();
    victim = await stack.startDataPlane({ name: "victim" });
    survivor = await stack.startDataPlane({ name: "survivor" });
  });
  afterAll(() => stack?.stop());

  async function subjectWithStreamsOnVictim(): Promise<Subject> {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, {
      fake,
      userConcurrency: SIZE.streams,
      accounts: [{ concurrency: SIZE.streams }, { concurrency: SIZE.streams }],
    });
    scriptUpstream(fake, SIZE.streams);
    const killed = await Promise.all(
      Array.from({ length: SIZE.streams }, () => openStream(victim.url, tenant.key)),
    );
    return { tenant, fake, killed };
  }

  const subjects: Subject[] = [];
  let killedAt = 0;

  it("re-admits each user's whole concurrency within the TTL of the kill", async () => {
    for (let i = 0; i < SIZE.users; i++) subjects.push(await subjectWithStreamsOnVictim());
    for (const s of subjects) {
      expect(s.fake.inFlight).toBe(SIZE.streams);
      expect(await listLeases(admin, s.tenant.userId)).toHaveLength(SIZE.streams);
    }
    killedAt = Date.now();
    await victim.kill();
    for (const s of subjects) for (const stream of s.killed) stream.abort();
    // Every user asks for its whole concurrency again at once: all of it waits until the dead leases expire.
    const recovered = await Promise.all(
      subjects.map(async (s) => {
        const batch = fullBatch(survivor, s.tenant);
        await waitFor(
          () =>
            s.fake.inFlight === SIZE.streams &&
            s.fake.requests.filter((r) => r.receivedAt >= killedAt).length >= SIZE.streams,
          { timeoutMs: TTL_MS * 3, intervalMs: 20, what: "the user's whole concurrency re-admitted" },
        );
        return { recoveredMs: Date.now() - killedAt, answers: await batch };
      }),
    );
    const worstRecoveryMs = Math.max(...recovered.map((r) => r.recoveredMs));
    recordFigures(SCENARIO, {
      "streams killed": SIZE.users * SIZE.streams,
      "users (each at its concurrency limit)": SIZE.users,
      "lease TTL (ms)": TTL_MS,
      "slots back, kill → last re-admitted request upstream (ms)": worstRecoveryMs,
    });
    expect(worstRecoveryMs).toBeLessThanOrEqual(TTL_MS + RECOVERY_MARGIN_MS);
    for (const { answers } of recovered) {
      expect(answers.map((a) => a.status)).toEqual(Array(SIZE.streams).fill(200));
      expect(answers.every((a) => a.frames.at(-1)?.event === "response.completed")).toBe(true);
    }
  });

  it("records each killed request exactly once, as abandoned", async () => {
    const records = (
      await Promise.all(
        subjects.map((s) =>
          waitForUsage(admin, s.tenant.userId, (r) => r.length >= 2 * SIZE.streams, TTL_MS * 3),
        ),
      )
    ).flat();
    const killedIds = subjects.flatMap((s) => s.killed.map((k) => k.requestId));
    const ofKilled = records.filter((r) => killedIds.includes(r.requestId));
    const abandoned = records.filter((r) => r.outcome === Outcome.ABANDONED);
    const duplicates = records.length - new Set(records.map((r) => r.requestId)).size;
    recordFigures(SCENARIO, {
      "abandoned usage records": abandoned.length,
      "killed requests without a usage record (lost usage)": killedIds.filter(
        (id) => !ofKilled.some((r) => r.requestId === id),
      ).length,
      "duplicate usage records": duplicates,
    });
    expect(ofKilled).toHaveLength(killedIds.length);
    expect(ofKilled.every((r) => r.outcome === Outcome.ABANDONED)).toBe(true);
    expect(abandoned.map((r) => r.requestId).sort()).toEqual([...killedIds].sort());
    expect(duplicates).toBe(0);
  });

  it("leaves no lease and no slot holder at 2×TTL; every user runs at its full concurrency again", async () => {
    await until(killedAt + 2 * TTL_MS);
    const leasesLeft = (await Promise.all(subjects.map((s) => listLeases(admin, s.tenant.userId)))).flat();
    const holdersLeft = await slotHolders(
      stack.redis,
      subjects.flatMap((s) => slotKeys(s.tenant)),
    );
    recordFigures(SCENARIO, {
      "leases left at 2×TTL": leasesLeft.length,
      "slot holders left in Redis at 2×TTL (leaked slots)": holdersLeft,
    });
    expect(leasesLeft).toEqual([]);
    expect(holdersLeft).toBe(0);
    for (const s of subjects) {
      s.fake.reset();
      scriptUpstream(s.fake, 0);
    }
    const again = await Promise.all(subjects.map((s) => fullBatch(survivor, s.tenant)));
    for (const [i, s] of subjects.entries()) {
      expect(again[i]?.map((a) => a.status)).toEqual(Array(SIZE.streams).fill(200));
      // The user's whole concurrency ran upstream at once again: no slot is still taken by a dead stream.
      expect(s.fake.maxInFlight).toBe(SIZE.streams);
    }
  });

  it("loses the usage of no request it answered before the kill (each one's usage travels with its release)", async () => {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, {
      fake,
      userConcurrency: ANSWERED.clients,
      accounts: [{ concurrency: ANSWERED.clients }],
    });
    const doomed = await stack.startDataPlane({ name: "answering" });
    const answered: string[] = [];
    let killed = false;
    const client = async () => {
      while (!killed) {
        const answer = await complete(
          doomed.url,
          tenant.key,
          "responses",
          requestBody("responses", false),
        ).catch(() => null);
        if (answer?.status === 200) answered.push(answer.requestId);
      }
    };
    const clients = Array.from({ length: ANSWERED.clients }, client);
    await waitFor(() => answered.length >= ANSWERED.beforeKill, {
      timeoutMs: 60_000,
      intervalMs: 5,
      what: `${ANSWERED.beforeKill} answered requests`,
    });
    // Killed while its clients are being answered: some answers are always just out, their usage not yet written.
    await doomed.kill();
    killed = true;
    await Promise.all(clients);
    const answeredIds = new Set(answered);
    // Those whose release had not left yet are billed `abandoned` once their leases expire (one TTL, then a sweep).
    const records = await waitForUsage(
      admin,
      tenant.userId,
      (r) => [...answeredIds].every((id) => r.some((record) => record.requestId === id)),
      TTL_MS * 6,
    ).catch(() => listUsage(admin, tenant.userId));
    const recorded = new Set(records.map((r) => r.requestId));
    const lost = [...answeredIds].filter((id) => !recorded.has(id));
    recordFigures(SCENARIO, {
      "requests answered before the kill": answeredIds.size,
      "answered requests without a usage record (lost usage)": lost.length,
      "answered requests recorded as abandoned (their release was not sent)": records.filter(
        (r) => answeredIds.has(r.requestId) && r.outcome === Outcome.ABANDONED,
      ).length,
    });
    expect(lost).toEqual([]);
    expect(records.length).toBe(recorded.size);
  });
});
