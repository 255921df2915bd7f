import { readdirSync, readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { CpuMeter } from "../support/cpu.js";
import { startServerProcess } from "../support/processes.js";
import { percentile, startSwitchyard } from "../support/switchyard.js";
import { requestHeaders, seedBestCase, seedOperatorTenants } from "../support/tenants.js";

/**
 * A profiling harness, not a benchmark: N sequential non-stream requests (default 2000), best case then operator
 * tenants, twice. Prints per run the p50/p99 of the whole request and of each Server-Timing stage, the CPU each plane
 * and Redis spent per request, and how often each process slept per request (voluntary context switches: every
 * hop between processes costs a sleep and a wake-up, which on this VM is most of the sequential cost).
 *
 *   N=2000 EXTRA_PIDS=$(pgrep -f "redis-server 127.0.0.1:6379") node --import tsx bench/tools/seq-probe.ts
 *
 * EXTRA_PIDS: more processes whose sleeps to count (Redis, PostgreSQL backends); GAP_MS: a pause between requests.
 */
const N = Number(process.env.N ?? 2000);
const WARMUP = 200;
const extraPids = (process.env.EXTRA_PIDS ?? "").split(",").filter(Boolean).map(Number);

/** Voluntary context switches (sleeps) of a process's threads so far, by thread name. */
function sleepsByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    const name = tid === String(pid) ? "main" : "other threads";
    const count = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    out.set(name, (out.get(name) ?? 0) + count);
  }
  return out;
}

function sleeps(pid: number): number {
  let total = 0;
  for (const count of sleepsByThread(pid).values()) total += count;
  return total;
}

const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const sw = await startSwitchyard({ label: "bench_seq_probe", dataPlane: true });
const dp = sw.dataPlane;
if (!dp) throw new Error("no data plane");
const pids = [dp.pid, sw.controlPlane.pid, ...extraPids];
process.stdout.write(`${JSON.stringify({ dataPlane: dp.pid, controlPlane: sw.controlPlane.pid })}\n`);
try {
  const best = await seedBestCase(sw.admin, fake.url, 1);
  const operators = await seedOperatorTenants(sw.admin, fake.url);
  const body = JSON.stringify({ model: "gpt-4o", input: "hello" });
  for (const [name, tenants] of [
    ["best case", best],
    ["operator tenants", operators],
    ["best case", best],
    ["operator tenants", operators],
  ] as const) {
    const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
    const samples: Record<string, number[]> = { total: [], admit: [], upstream: [], auth: [] };
    const meter = new CpuMeter([dp.pid, sw.controlPlane.pid]);
    let stop: Awaited<ReturnType<CpuMeter["start"]>> | null = null;
    let sleptBefore: number[] = [];
    let threadsBefore = new Map<string, number>();
    for (let i = 0; i < N + WARMUP; i++) {
      if (i === WARMUP) {
        stop = await meter.start();
        sleptBefore = pids.map(sleeps);
        threadsBefore = sleepsByThread(dp.pid);
      }
      const started = performance.now();
      const res = await request(`${dp.url}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", ...requestHeaders(tenants, i) },
        body,
        dispatcher: agent,
      });
      await res.body.text();
      if (process.env.GAP_MS) await new Promise((r) => setTimeout(r, Number(process.env.GAP_MS)));
      if (i < WARMUP) continue;
      samples.total?.push(performance.now() - started);
      for (const m of String(res.headers["server-timing"]).matchAll(/(\w+);dur=([\d.]+)/g))
        samples[m[1] as string]?.push(Number(m[2]));
    }
    if (process.env.BY_THREAD) {
      const after = sleepsByThread(dp.pid);
      const byThread = [...after].map(
        ([t, n]) => `${t} ${((n - (threadsBefore.get(t) ?? 0)) / N).toFixed(2)}`,
      );
      process.stdout.write(`data plane sleeps/request by thread: ${byThread.join(", ")}\n`);
    }
    const slept = pids.map((pid, i) => ((sleeps(pid) - (sleptBefore[i] ?? 0)) / N).toFixed(1));
    const cpu = await (stop as NonNullable<typeof stop>)();
    meter.close();
    await agent.close();
    const ms = Object.entries(samples).map(
      ([k, v]) => `${k} ${percentile(v, 0.5).toFixed(2)}/${percentile(v, 0.99).toFixed(2)}`,
    );
    const us = (total: number) => ((total * 1000) / N).toFixed(0);
    process.stdout.write(
      `${name}: p50/p99 ms ${ms.join(", ")}; CPU µs/request data plane ${us(cpu.processes[0] ?? 0)}, control plane ${us(cpu.processes[1] ?? 0)}, Redis ${us(cpu.redis)}; sleeps/request ${slept.join(", ")}\n`,
    );
  }
} finally {
  await Promise.all([sw.stop(), fake.stop()]);
}
