import { readdirSync, renameSync } from "node:fs";
import { load } from "../support/load.js";
import { startServerProcess } from "../support/processes.js";
import { startSwitchyard } from "../support/switchyard.js";
import { requestHeaders, seedOperatorTenants } from "../support/tenants.js";

/**
 * Not a benchmark: heap snapshots of the control plane after a warm-up and after REQUESTS more (operator tenants,
 * c=8), written to OUT (default /tmp/heap). Start with BENCH_NODE_ARGS=--heapsnapshot-signal=SIGUSR2.
 */
const REQUESTS = Number(process.env.REQUESTS ?? 40_000);
const OUT = process.env.OUT ?? "/tmp/heap";
const body = JSON.stringify({ model: "gpt-4o", input: "hello" });
const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const sw = await startSwitchyard({ label: "bench_heap_diff", dataPlane: true });
const dp = sw.dataPlane;
if (!dp) throw new Error("no dp");
const snapshot = async (name: string) => {
  const before = new Set(readdirSync("."));
  process.kill(sw.controlPlane.pid, "SIGUSR2");
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const file = readdirSync(".").find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
    if (file) {
      await new Promise((r) => setTimeout(r, 3000));
      renameSync(file, `${OUT}/${name}.heapsnapshot`);
      return;
    }
  }
};
try {
  const tenants = await seedOperatorTenants(sw.admin, fake.url);
  let sent = 0;
  const run = async (requests: number) => {
    const started = sent;
    while (sent - started < requests) {
      const r = await load({
        url: `${dp.url}/v1/responses`,
        connections: 8,
        durationSeconds: 5,
        body,
        headersFor: (i) => requestHeaders(tenants, sent + i),
      });
      sent += Math.round(r.requestsPerSecond * 5);
      process.stdout.write(
        `${sent} sent (${Math.round(r.requestsPerSecond)}/s, errors ${r.errors + r.non2xx})\n`,
      );
    }
  };
  await run(3_000);
  await new Promise((r) => setTimeout(r, 3000));
  await snapshot("start");
  await run(REQUESTS);
  await new Promise((r) => setTimeout(r, 3000));
  await snapshot("end");
} finally {
  await Promise.all([sw.stop(), fake.stop()]);
}
