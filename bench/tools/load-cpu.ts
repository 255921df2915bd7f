import { CpuMeter } from "../support/cpu.js";
import { load } from "../support/load.js";
import { startServerProcess } from "../support/processes.js";
import { startSwitchyard } from "../support/switchyard.js";
import { requestHeaders, seedOperatorTenants } from "../support/tenants.js";

/**
 * A profiling harness, not a benchmark: Switchyard with operator tenants under c=50 non-stream load for SECS seconds
 * (default 20), printing the processes' ids first (to attach `perf record -p`, started with
 * BENCH_NODE_ARGS=--perf-basic-prof) and then the CPU each process and Redis used per request.
 *
 *   BENCH_NODE_ARGS=--perf-basic-prof node --import tsx bench/tools/load-cpu.ts
 */
const SECONDS = Number(process.env.SECS ?? 20);
const body = JSON.stringify({ model: "gpt-4o", input: "hello" });

const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const switchyard = await startSwitchyard({ label: "bench_load_cpu", dataPlane: true });
const dataPlane = switchyard.dataPlane;
if (!dataPlane) throw new Error("no data plane");
try {
  const tenants = await seedOperatorTenants(switchyard.admin, fake.url);
  const run = (durationSeconds: number) =>
    load({
      url: `${dataPlane.url}/v1/responses`,
      connections: 50,
      durationSeconds,
      body,
      headersFor: (i) => requestHeaders(tenants, i),
    });
  process.stdout.write(
    `${JSON.stringify({ dataPlane: dataPlane.pid, controlPlane: switchyard.controlPlane.pid })}\n`,
  );
  await run(3); // warm-up
  const meter = new CpuMeter([dataPlane.pid, switchyard.controlPlane.pid]);
  const stop = await meter.start();
  const result = await run(SECONDS);
  const cpu = await stop();
  meter.close();
  const requests = result.requestsPerSecond * SECONDS;
  const perRequest = (ms: number) => Math.round((ms * 1000) / Math.max(1, requests));
  process.stdout.write(
    `${JSON.stringify({
      requestsPerSecond: Math.round(result.requestsPerSecond),
      errors: result.errors + result.non2xx,
      cpuMicrosPerRequest: {
        dataPlane: perRequest(cpu.processes[0] ?? 0),
        controlPlane: perRequest(cpu.processes[1] ?? 0),
        redis: perRequest(cpu.redis),
      },
    })}\n`,
  );
} finally {
  await Promise.all([switchyard.stop(), fake.stop()]);
}
