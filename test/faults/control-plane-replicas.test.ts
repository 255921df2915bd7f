import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { startDnsServer, type TestDnsServer } from "../support/dns-server.js";
import { waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack, type FaultStackOptions } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { type LoadAnswer, statusCounts, steadyLoad } from "./support/steady-load.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, seedTenant, waitForUsage } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";

const SCENARIO = "control-plane replicas";
const NAME = "cp.switchyard.test";
const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
const RESOLVE_INTERVAL_MS = 2_000;
const SIZE = sized({ reduced: { before: 300, after: 300 }, full: { before: 2_000, after: 2_000 } });

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)] ?? 0;
const latency = (a: LoadAnswer) => a.answeredAt - a.sentAt;

describe("a data plane over every control-plane replica of a dns: name", () => {
  const options: FaultStackOptions = { label: "cp-replicas", controlPlaneHosts: HOSTS };
  let stack: FaultStack;
  let dns: TestDnsServer;
  let admin: Admin;
  let dp: SwitchyardProcess;
  const opened = (host: string) =>
    dp.process.output().includes(`"replica":"http://${host}:${stack.controlPlane.port}"`) &&
    dp.process
      .output()
      .split("\n")
      .some((l) => l.includes(`http://${host}:`) && l.includes("lease channel open"));

  beforeAll(async () => {
    dns = await startDnsServer();
    stack = await FaultStack.start(options);
    dns.set(NAME, HOSTS);
    admin = stack.adminOf();
    dp = await stack.startDataPlane({
      env: {
        SWITCHYARD_CONTROL_PLANE_URL: `dns://127.0.0.1:${dns.port}/${NAME}:${stack.controlPlane.port}`,
        SWITCHYARD_CONTROL_PLANE_RESOLVE_INTERVAL_MS: String(RESOLVE_INTERVAL_MS),
      },
    });
    await waitFor(() => HOSTS.every(opened), { what: "a lease channel to every replica" });
  });
  afterAll(async () => {
    await stack?.stop();
    await dns?.close();
  });

  it("loses no request to a replica's kill -9, uses a new replica within the re-resolve interval, 503s when none is left", async () => {
    const fake = await stack.startFake();
    const tenant = await seedTenant(admin, { fake, userConcurrency: 40, accounts: [{ concurrency: 100 }] });
    const load = steadyLoad(dp.url, tenant.key, 20, "chat", true);
    await waitFor(() => load.answers.length >= SIZE.before, {
      timeoutMs: 60_000,
      what: "load before the kill",
    });
    // Readiness while one replica of three dies: it must stay 200 (a load balancer would otherwise drop the pod).
    const readiness: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        readiness.push((await fetch(`${dp.url}/readyz`)).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const killedAt = Date.now();
    const victim = stack.controlPlanes[1];
    if (!victim) throw new Error("no second replica");
    await victim.kill();
    await waitFor(() => load.answers.filter((a) => a.sentAt > killedAt).length >= SIZE.after, {
      timeoutMs: 60_000,
      what: "load after the kill",
    });

    sampling = false;
    await sampler;
    const addedAt = Date.now();
    await stack.addControlPlane(options, { host: "127.0.0.5", port: stack.controlPlane.port });
    dns.set(NAME, ["127.0.0.2", "127.0.0.4", "127.0.0.5"]);
    const dnsAt = Date.now();
    await waitFor(() => opened("127.0.0.5"), {
      timeoutMs: RESOLVE_INTERVAL_MS * 5,
      what: "the new replica used",
    });
    const newReplicaMs = Date.now() - dnsAt;
    const answers = await load.stop();

    const before = answers.filter((a) => a.answeredAt < killedAt);
    const around = answers.filter((a) => a.sentAt <= killedAt + 5_000 && a.answeredAt >= killedAt);
    const worstAroundMs = Math.max(0, ...around.map(latency));
    const served = answers.filter((a) => a.status === 200);
    const records = await waitForUsage(admin, tenant.userId, (r) => r.length >= served.length, 30_000);
    const ids = new Set(records.map((r) => r.requestId));
    const lost = served.filter((a) => !ids.has(a.requestId)).length;
    const withoutTokens = records.filter(
      (r) => r.outcome !== Outcome.COMPLETED || !r.tokens?.outputTokens,
    ).length;

    for (const cp of stack.controlPlanes) if (cp.running) await cp.kill();
    await waitFor(async () => (await fetch(`${dp.url}/readyz`)).status === 503, { what: "not ready" });
    const asked = Date.now();
    const refused = await complete(dp.url, tenant.key, "chat", requestBody("chat", false));
    const refusedMs = Date.now() - asked;

    recordFigures(SCENARIO, {
      "replicas (one dns: name, one port)": HOSTS.length,
      "load (clients, streaming and not)": 20,
      requests: answers.length,
      "answers (status: count)": JSON.stringify(statusCounts(answers)),
      "p99 before the kill (ms)": p99(before.map(latency)),
      "slowest request around the kill (ms)": worstAroundMs,
      "new replica in DNS → its lease channel open (ms; re-resolve every 2 s)": newReplicaMs,
      "lost usage": lost,
      "records without real tokens": withoutTokens,
      "duplicate usage records": records.length - ids.size,
      "every replica down → 503 after (ms)": refusedMs,
      "replica added after (ms)": addedAt - killedAt,
      "/readyz while a replica died (samples, all 200)": `${readiness.length}, ${readiness.every((s) => s === 200)}`,
    });
    expect(statusCounts(answers)).toEqual({ 200: answers.length });
    expect(readiness.length).toBeGreaterThan(0);
    expect(readiness.every((status) => status === 200)).toBe(true);
    expect(worstAroundMs).toBeLessThanOrEqual(p99(before.map(latency)) + 1_000);
    expect(newReplicaMs).toBeLessThanOrEqual(RESOLVE_INTERVAL_MS + 2_000);
    expect(lost).toBe(0);
    expect(withoutTokens).toBe(0);
    expect(records).toHaveLength(ids.size);
    expect(refused.status).toBe(503);
    expect(refusedMs).toBeLessThan(2_000);
  });
});
