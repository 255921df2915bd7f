import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { until, waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, seedTenant, waitForUsage } from "./support/tenants.js";
import { complete, type OpenStream, openStream, requestBody } from "./support/traffic.js";

const TTL_MS = 6_000;
/**
 * The user's concurrency (all of it running when the control plane dies), and requests sent at once after it is
 * back: all of them wait while the re-asserted streams run, so at most 20, the user's wait queue (more would be
 * answered 429, as they should).
 */
const SIZE = sized({ reduced: { limit: 4, after: 12 }, full: { limit: 8, after: 20 } });
/**
 * How the control plane goes away: crashed, stopped, or frozen (SIGSTOP: a stalled or partitioned host, its
 * connections open and silent — only the HTTP/2 pings tell it from a slow one; it comes back where it stopped, with
 * its timers overdue and the lease TTL long past).
 */
const WAYS = sized({ reduced: ["kill -9"] as const, full: ["kill -9", "SIGTERM", "SIGSTOP"] as const });
const LABELS = { "kill -9": "kill", SIGTERM: "term", SIGSTOP: "freeze" } as const;

describe.each(WAYS)(
  "when the control plane goes away (%s) mid-stream for longer than the lease TTL",
  (way) => {
    const scenario = `control-plane outage (${way})`;
    let stack: FaultStack;
    let admin: Admin;
    let dp: SwitchyardProcess;

    beforeAll(async () => {
      stack = await FaultStack.start({
        label: `cp-outage-${LABELS[way]}`,
        leaseTtlMs: TTL_MS,
      });
      admin = stack.adminOf();
      dp = await stack.startDataPlane({ env: { SWITCHYARD_CONTROL_PLANE_WAIT_MS: "1000" } });
    });
    afterAll(() => {
      stack?.controlPlane.thaw(); // a failure while frozen must not leave it stopped
      return stack?.stop();
    });

    it("finishes the streams, answers 503 meanwhile, holds the user's limit from reconnection and bills real usage once", async () => {
      const fake = await stack.startFake();
      const tenant = await seedTenant(admin, {
        fake,
        userConcurrency: SIZE.limit,
        accounts: [{ concurrency: 100 }],
      });
      // Streams that outlast the outage (~25 s), then short ones (~1 s) for the requests sent after it.
      fake.script({ text: "x".repeat(250), events: 250, eventDelayMs: 100, times: SIZE.limit });
      fake.script({ text: "y".repeat(10), events: 10, eventDelayMs: 100 });
      const running: OpenStream[] = await Promise.all(
        Array.from({ length: SIZE.limit }, () => openStream(dp.url, tenant.key)),
      );
      expect(fake.inFlight).toBe(SIZE.limit);

      const downAt = Date.now();
      if (way === "kill -9") await stack.controlPlane.kill();
      else if (way === "SIGTERM") await stack.controlPlane.terminate();
      else stack.controlPlane.freeze();
      await waitFor(async () => (await fetch(`${dp.url}/readyz`)).status === 503, {
        what: "data plane not ready",
      });
      const asked = Date.now();
      const refused = await complete(dp.url, tenant.key, "responses", requestBody("responses", false));
      const refusedAfterMs = Date.now() - asked;
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBeTruthy();
      expect(JSON.parse(refused.text)).toMatchObject({ error: { type: "api_error" } });

      await until(downAt + 2 * TTL_MS); // longer than the TTL: every slot of the running streams lapses
      if (way === "SIGSTOP") stack.controlPlane.thaw();
      else await stack.controlPlane.start();
      await waitFor(async () => (await fetch(`${dp.url}/readyz`)).status === 200, {
        what: "data plane ready again",
      });
      const reconnectedMs = Date.now() - downAt;

      // From the reconnection on, what runs upstream for the user never exceeds its concurrency.
      let maxInFlight = 0;
      const sampler = setInterval(() => {
        maxInFlight = Math.max(maxInFlight, fake.inFlight);
      }, 2);
      const later = await Promise.all(
        Array.from({ length: SIZE.after }, () => complete(dp.url, tenant.key, "chat")),
      );
      clearInterval(sampler);
      const finished = await Promise.all(running.map((s) => s.reader.readToEnd()));

      expect(later.map((a) => a.status)).toEqual(Array(SIZE.after).fill(200));
      expect(finished.every((frames) => frames.at(-1)?.event === "response.completed")).toBe(true);
      expect(maxInFlight).toBeLessThanOrEqual(SIZE.limit);

      const total = SIZE.limit + SIZE.after;
      const records = await waitForUsage(
        admin,
        tenant.userId,
        (r) => r.filter((x) => x.outcome === Outcome.COMPLETED).length >= total,
        30_000,
      );
      const runningIds = running.map((s) => s.requestId);
      const ofRunning = records.filter((r) => runningIds.includes(r.requestId));
      const duplicates = records.length - new Set(records.map((r) => r.requestId)).size;
      const billed = ofRunning.filter(
        (r) => r.outcome === Outcome.COMPLETED && (r.tokens?.outputTokens ?? 0) > 0,
      );
      const lost = runningIds.filter((id) => !billed.some((r) => r.requestId === id)).length;
      recordFigures(scenario, {
        "streams running through the outage": SIZE.limit,
        "outage (control plane down → data plane ready again, ms)": reconnectedMs,
        "answer to a request while down (ms, 503 + Retry-After)": refusedAfterMs,
        "max concurrent upstream streams after reconnection (limit)": `${maxInFlight} (${SIZE.limit})`,
        "streams completed": finished.length,
        "running requests billed with their real tokens": billed.length,
        "lost usage": lost,
        "duplicate usage records": duplicates,
      });
      expect(ofRunning).toHaveLength(SIZE.limit);
      for (const r of ofRunning) {
        expect(r.outcome).toBe(Outcome.COMPLETED);
        expect(r.tokens?.outputTokens).toBeGreaterThan(0);
      }
      expect(records).toHaveLength(total);
      expect(duplicates).toBe(0);
    });
  },
);
