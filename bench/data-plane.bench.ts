import { Agent, request } from "undici";
import { load } from "./support/load.js";
import { type ServerProcess, startServerProcess } from "./support/processes.js";
import { percentile, startSwitchyard } from "./support/switchyard.js";

/**
 * The data plane's cost (DESIGN.md §8): added latency over calling the upstream directly (sequential, non-stream
 * /v1/responses, full path: auth, admit, forward, release, usage) and throughput at 50 concurrent against a bare
 * Express 5 + undici pass-through started in the same run.
 */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const body = JSON.stringify({ model: "gpt-4o", input: "hello" });

async function sequentialLatency(url: string, headers: Record<string, string>): Promise<number[]> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  const samples: number[] = [];
  for (let i = 0; i < SEQUENTIAL + 200; i++) {
    const started = performance.now();
    const res = await request(`${url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      dispatcher: agent,
    });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
    if (i >= 200) samples.push(performance.now() - started);
  }
  await agent.close();
  return samples.sort((a, b) => a - b);
}

const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const bare = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url]);
const switchyard = await startSwitchyard({ label: "bench_dp", dataPlane: true });
const dataPlane = switchyard.dataPlane as ServerProcess;
try {
  const key = await switchyard.seedTenant({ upstream: fake.url, accounts: 1 });
  const auth = { authorization: `Bearer ${key}` };
  const direct = await sequentialLatency(fake.url, {});
  const viaBare = await sequentialLatency(bare.url, {});
  const viaSwitchyard = await sequentialLatency(dataPlane.url, auth);
  const loadOf = (url: string, headers: Record<string, string>) =>
    load({ url: `${url}/v1/responses`, connections: 50, durationSeconds: DURATION_S, body, headers });
  await loadOf(dataPlane.url, auth); // warm-up
  const bareLoad = await loadOf(bare.url, {});
  const switchyardLoad = await loadOf(dataPlane.url, auth);
  const f = (n: number) => n.toFixed(2);
  const added = (p: number) => percentile(viaSwitchyard, p) - percentile(direct, p);
  process.stdout.write(
    [
      `### Data plane: non-stream /v1/responses, full path (${SEQUENTIAL} sequential requests; c=50 for ${DURATION_S} s)`,
      "",
      "| path | sequential p50 ms | sequential p99 ms | added p50 ms | added p99 ms |",
      "|---|---|---|---|---|",
      `| direct to the fake upstream (baseline) | ${f(percentile(direct, 0.5))} | ${f(percentile(direct, 0.99))} | — | — |`,
      `| bare Express 5 + undici pass-through | ${f(percentile(viaBare, 0.5))} | ${f(percentile(viaBare, 0.99))} | ${f(percentile(viaBare, 0.5) - percentile(direct, 0.5))} | ${f(percentile(viaBare, 0.99) - percentile(direct, 0.99))} |`,
      `| Switchyard data plane (+ control plane, Redis) | ${f(percentile(viaSwitchyard, 0.5))} | ${f(percentile(viaSwitchyard, 0.99))} | ${f(added(0.5))} | ${f(added(0.99))} |`,
      "",
      "| c=50 | req/s | vs bare pass-through | p50 ms | p99 ms | errors |",
      "|---|---|---|---|---|---|",
      `| bare Express 5 + undici (baseline) | ${Math.round(bareLoad.requestsPerSecond)} | 1.00× | ${bareLoad.p50Ms} | ${bareLoad.p99Ms} | ${bareLoad.errors + bareLoad.non2xx} |`,
      `| Switchyard data plane | ${Math.round(switchyardLoad.requestsPerSecond)} | ${(switchyardLoad.requestsPerSecond / bareLoad.requestsPerSecond).toFixed(2)}× | ${switchyardLoad.p50Ms} | ${switchyardLoad.p99Ms} | ${switchyardLoad.errors + switchyardLoad.non2xx} |`,
      "",
      "Budget (DESIGN.md §8): added p50 ≤ 1 ms, p99 ≤ 3 ms; ≥ 0.7× the bare pass-through at c=50.",
      "",
    ].join("\n"),
  );
} finally {
  await Promise.all([bare.stop(), fake.stop(), switchyard.stop()]);
}
