import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { type ServerProcess, startServerProcess } from "./support/processes.js";
import { startSwitchyard } from "./support/switchyard.js";
import { seedBestCase } from "./support/tenants.js";

/**
 * Memory of one data plane holding many concurrent SSE streams (DESIGN.md §8: 2,000 streams within 300 MB RSS),
 * against the bare Express + undici pass-through holding the same streams.
 */
const STREAMS = Number(process.env.BENCH_STREAMS ?? 2000);
const body = JSON.stringify({ model: "gpt-4o", input: "hello", stream: true });

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Opens `STREAMS` streams at once, samples the server's RSS while all are open, and waits for every one to end. */
async function hold(url: string, pid: number, headers: Record<string, string>) {
  const agent = new Agent({ connections: STREAMS + 10, keepAliveTimeout: 30_000 });
  const idle = rssMb(pid);
  let completed = 0;
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 200);
  await Promise.all(
    Array.from({ length: STREAMS }, async () => {
      const res = await request(`${url}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        dispatcher: agent,
      });
      const text = await res.body.text();
      if (res.statusCode === 200 && text.includes("response.completed")) completed++;
    }),
  );
  clearInterval(sampler);
  await agent.close();
  return { idle, peak, completed };
}

const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
// Every upstream stream: 20 events, 400 ms apart (~8 s), so all streams are open at the same time.
await fetch(`${fake.url}/__fake/scripts`, {
  method: "POST",
  body: JSON.stringify({ events: 20, eventDelayMs: 400 }),
});
const bare = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url]);
const switchyard = await startSwitchyard({ label: "bench_streams", dataPlane: true });
const dataPlane = switchyard.dataPlane as ServerProcess;
try {
  const [key = ""] = (await seedBestCase(switchyard.admin, fake.url, 1)).keys;
  const baseline = await hold(bare.url, bare.pid, {});
  const measured = await hold(dataPlane.url, dataPlane.pid, { authorization: `Bearer ${key}` });
  const f = (n: number) => n.toFixed(0);
  process.stdout.write(
    [
      `### Concurrent streams on one data plane (${STREAMS} SSE streams of ~8 s, all open together)`,
      "",
      "| server | RSS idle MB | RSS peak MB | streams completed |",
      "|---|---|---|---|",
      `| bare Express 5 + undici (baseline) | ${f(baseline.idle)} | ${f(baseline.peak)} | ${baseline.completed}/${STREAMS} |`,
      `| Switchyard data plane | ${f(measured.idle)} | ${f(measured.peak)} | ${measured.completed}/${STREAMS} |`,
      "",
      "Budget (DESIGN.md §8): 2,000 concurrent streams within 300 MB RSS.",
      "",
    ].join("\n"),
  );
} finally {
  await Promise.all([bare.stop(), fake.stop(), switchyard.stop()]);
}
