import { Agent, request } from "undici";
import { CpuMeter } from "./support/cpu.js";
import { load } from "./support/load.js";
import { startPortkey } from "./support/portkey.js";
import { type ServerProcess, startServerProcess } from "./support/processes.js";
import { percentile, startSwitchyard } from "./support/switchyard.js";
import { type BenchTenants, requestHeaders, seedBestCase, seedOperatorTenants } from "./support/tenants.js";

/**
 * The data plane's cost (DESIGN.md §8), against a bare Express 5 + undici pass-through and Portkey OSS started in the
 * same run, on the same fake upstream: added latency over calling the upstream directly (sequential, non-stream
 * /v1/responses, full path: auth, admit, forward, release, usage), added time to the first byte of a stream, and
 * throughput at 50 concurrent. Switchyard runs twice: tenants as an operator configures them (50 users with
 * concurrency 5–20, 3 keys each, 4 accounts of concurrency 50, half the requests with a session header, the default
 * price table) and the best case (one unlimited user and key).
 */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const WARMUP = 200;

/** One sequential run: total latency, time to the first body byte, and the admit phase from Server-Timing. */
interface Samples {
  total: number[];
  firstByte: number[];
  admit: number[];
}

/** Sends SEQUENTIAL requests one after another over one keep-alive connection. */
async function sequential(
  url: string,
  headersFor: (i: number) => Record<string, string>,
  stream: boolean,
): Promise<Samples> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  const body = JSON.stringify({ model: "gpt-4o", input: "hello", stream });
  const samples: Samples = { total: [], firstByte: [], admit: [] };
  for (let i = 0; i < SEQUENTIAL + WARMUP; i++) {
    const started = performance.now();
    const res = await request(`${url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headersFor(i) },
      body,
      dispatcher: agent,
    });
    let firstByte = 0;
    for await (const _chunk of res.body) firstByte ||= performance.now() - started;
    if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
    if (i < WARMUP) continue;
    samples.total.push(performance.now() - started);
    samples.firstByte.push(firstByte);
    const admit = /admit;dur=([\d.]+)/.exec(String(res.headers["server-timing"] ?? ""))?.[1];
    if (admit) samples.admit.push(Number(admit));
  }
  await agent.close();
  return samples;
}

const f = (n: number) => n.toFixed(2);
const FLOOR = "design floor: bare + one admit round trip on the lease channel";
const FLOOR_REDIS = "design floor + the admit's slots in Redis (one script)";
const none = () => ({});

const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const bare = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url]);
// The design's floor: the bare pass-through plus one admit on the lease channel to a server that answers at once,
// and the same with the least the admit does in Redis (a user and an account slot, one script).
const echo = await startServerProcess("bench/support/echo-gateway-server.ts");
const echoRedis = await startServerProcess("bench/support/echo-gateway-server.ts", [
  "--redis",
  "redis://127.0.0.1:6379",
]);
const floor = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url, echo.url]);
const floorRedis = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url, echoRedis.url]);
const portkey = await startPortkey();
const switchyard = await startSwitchyard({ label: "bench_dp", dataPlane: true });
const dataPlane = switchyard.dataPlane as ServerProcess;
try {
  const best = await seedBestCase(switchyard.admin, fake.url, 1);
  const operators = await seedOperatorTenants(switchyard.admin, fake.url);
  const viaTenants = (t: BenchTenants) => (i: number) => requestHeaders(t, i);
  const portkeyHeaders = () => portkey.headers(fake.url);

  const direct = await sequential(fake.url, none, false);
  const rows = [
    { name: "bare Express 5 + undici pass-through", s: await sequential(bare.url, none, false) },
    { name: "Portkey OSS 1.15.2", s: await sequential(portkey.url, portkeyHeaders, false) },
    { name: FLOOR, s: await sequential(floor.url, none, false) },
    { name: FLOOR_REDIS, s: await sequential(floorRedis.url, none, false) },
    {
      name: "Switchyard, operator tenants",
      s: await sequential(dataPlane.url, viaTenants(operators), false),
    },
    { name: "Switchyard, best case", s: await sequential(dataPlane.url, viaTenants(best), false) },
  ];
  const added = (s: Samples, p: number) => percentile(s.total, p) - percentile(direct.total, p);
  const bareRow = rows[0]?.s as Samples;

  const directStream = await sequential(fake.url, none, true);
  const bareStream = await sequential(bare.url, none, true);
  const floorStream = await sequential(floorRedis.url, none, true);
  const switchyardStream = await sequential(dataPlane.url, viaTenants(operators), true);
  const addedFirstByte = (s: Samples) =>
    percentile(s.firstByte, 0.5) - percentile(directStream.firstByte, 0.5);

  /** A c=50 run, with the CPU the gateway's processes (and Redis) used per request. */
  const loadOf = async (
    url: string,
    headersFor: (i: number) => Record<string, string>,
    pids: readonly number[],
  ) => {
    const meter = new CpuMeter(pids);
    const stop = await meter.start();
    const r = await load({
      url: `${url}/v1/responses`,
      connections: 50,
      durationSeconds: DURATION_S,
      body: JSON.stringify({ model: "gpt-4o", input: "hello" }),
      headersFor,
    });
    const cpu = await stop();
    meter.close();
    const requests = r.requestsPerSecond * DURATION_S;
    const perRequest = (ms: number) => Math.round((ms * 1000) / Math.max(1, requests));
    return { ...r, cpu: cpu.processes.map(perRequest), redisCpu: perRequest(cpu.redis) };
  };
  const switchyardPids = [dataPlane.pid, switchyard.controlPlane.pid];
  await loadOf(dataPlane.url, viaTenants(operators), switchyardPids); // warm-up
  const loads = [
    { name: "bare Express 5 + undici (baseline)", r: await loadOf(bare.url, none, [bare.pid]) },
    { name: "Portkey OSS 1.15.2", r: await loadOf(portkey.url, portkeyHeaders, [portkey.pid]) },
    { name: FLOOR, r: await loadOf(floor.url, none, [floor.pid, echo.pid]) },
    { name: FLOOR_REDIS, r: await loadOf(floorRedis.url, none, [floorRedis.pid, echoRedis.pid]) },
    {
      name: "Switchyard, operator tenants",
      r: await loadOf(dataPlane.url, viaTenants(operators), switchyardPids),
    },
    { name: "Switchyard, best case", r: await loadOf(dataPlane.url, viaTenants(best), switchyardPids) },
  ];
  const bareRps = loads[0]?.r.requestsPerSecond ?? 1;
  const portkeyRps = loads[1]?.r.requestsPerSecond ?? 1;

  process.stdout.write(
    [
      `### Data plane: non-stream /v1/responses, full path (${SEQUENTIAL} sequential requests; c=50 for ${DURATION_S} s)`,
      "",
      "Operator tenants: 50 users (concurrency 5–20), 3 keys each, 4 accounts of concurrency 50 in one group, every",
      "other request with a `session_id`, the default price table. Best case: one unlimited user, one key.",
      "",
      "| path | sequential p50 ms | p99 ms | added p50 ms | added p99 ms | added vs bare (p50 / p99) | admit p50 / p99 ms |",
      "|---|---|---|---|---|---|---|",
      `| direct to the fake upstream (baseline) | ${f(percentile(direct.total, 0.5))} | ${f(percentile(direct.total, 0.99))} | — | — | — | — |`,
      ...rows.map(
        ({ name, s }) =>
          `| ${name} | ${f(percentile(s.total, 0.5))} | ${f(percentile(s.total, 0.99))} | ${f(added(s, 0.5))} | ${f(added(s, 0.99))} | ${f(added(s, 0.5) / added(bareRow, 0.5))}× / ${f(added(s, 0.99) / added(bareRow, 0.99))}× | ${s.admit.length ? `${f(percentile(s.admit, 0.5))} / ${f(percentile(s.admit, 0.99))}` : "—"} |`,
      ),
      "",
      "| stream: time to first byte | p50 ms | added p50 ms | added vs bare |",
      "|---|---|---|---|",
      `| direct to the fake upstream | ${f(percentile(directStream.firstByte, 0.5))} | — | — |`,
      `| bare Express 5 + undici pass-through | ${f(percentile(bareStream.firstByte, 0.5))} | ${f(addedFirstByte(bareStream))} | 1.00× |`,
      `| ${FLOOR_REDIS} | ${f(percentile(floorStream.firstByte, 0.5))} | ${f(addedFirstByte(floorStream))} | ${f(addedFirstByte(floorStream) / addedFirstByte(bareStream))}× |`,
      `| Switchyard, operator tenants | ${f(percentile(switchyardStream.firstByte, 0.5))} | ${f(addedFirstByte(switchyardStream))} | ${f(addedFirstByte(switchyardStream) / addedFirstByte(bareStream))}× |`,
      "",
      "| c=50 | req/s | vs bare pass-through | vs Portkey | p50 ms | p99 ms | errors | gateway CPU µs/req | Redis CPU µs/req |",
      "|---|---|---|---|---|---|---|---|---|",
      ...loads.map(
        ({ name, r }) =>
          `| ${name} | ${Math.round(r.requestsPerSecond)} | ${(r.requestsPerSecond / bareRps).toFixed(2)}× | ${(r.requestsPerSecond / portkeyRps).toFixed(2)}× | ${r.p50Ms} | ${r.p99Ms} | ${r.errors + r.non2xx} | ${r.cpu.length > 1 ? `${r.cpu.reduce((a, b) => a + b, 0)} (data plane ${r.cpu[0]}, ${name.startsWith("design floor") ? "channel server" : "control plane"} ${r.cpu[1]})` : r.cpu[0]} | ${r.redisCpu} |`,
      ),
      "",
      "Gateway CPU: the processes serving the requests (read from /proc); Redis CPU from INFO cpu.",
      "",
      "The design floor rows are the bare pass-through plus what DESIGN.md §2–§3 make every request pay and nothing",
      "else: one admit on the data plane's lease channel, answered at once by a server that does no lease logic (and,",
      "in the second, runs one Lua script taking a user slot and an account slot in Redis, as the real admit must),",
      "and a release off the request's path. No implementation of this design can do better than its floor.",
      "",
      "Budget (DESIGN.md §8): added latency p50 ≤ 2.5× and p99 ≤ 3× the bare pass-through's; added time to first byte",
      "p50 ≤ 2.5× bare's; at c=50 ≥ 0.7× the bare pass-through and ≥ 2.5× Portkey — for the operator tenants.",
      "",
    ].join("\n"),
  );
} finally {
  await Promise.all(
    [fake, bare, echo, echoRedis, floor, floorRedis, portkey, switchyard].map((server) => server.stop()),
  );
}
