import type { LeaseChannel, OperationRequest } from "../src/data-plane/control/lease-channel.js";
import { Endpoint, Outcome } from "../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../src/shared/api-key.js";
import { CpuMeter } from "./support/cpu.js";
import { leaseChannelTo } from "./support/lease-channel-client.js";
import { startServerProcess } from "./support/processes.js";
import { percentile, startSwitchyard } from "./support/switchyard.js";
import { type OperatorShape, seedBestCase, seedOperatorTenants } from "./support/tenants.js";

/** Per-user limits in force at 64 in flight (issue "hot-path cost"): 64 users of concurrency 4, one key each. */
const LIMITED: OperatorShape = {
  users: 64,
  keysPerUser: 1,
  userConcurrency: [4],
  accounts: 4,
  accountConcurrency: 50,
};

/**
 * Admit+release pairs per second through one control-plane process (real lease logic: key lookup, user slot and
 * account selection + slot in Redis, lease records), against the same channel with handlers that answer at once
 * (the bare transport round trip), at 1 and 64 requests in flight.
 */
const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 5) * 1000;

interface Result {
  pairsPerSecond: number;
  /** CPU per pair of the server answering the channel (the control plane, or the echo server), in µs. */
  serverCpuUs: number;
  /** Redis CPU per pair, in µs. */
  redisCpuUs: number;
  admitP50: number;
  admitP99: number;
  pairP50: number;
  pairP99: number;
}

async function run(
  channel: LeaseChannel,
  server: CpuMeter,
  keys: readonly string[],
  inFlight: number,
  durationMs: number,
): Promise<Result> {
  const hashes = keys.map((k) => hashApiKey(k));
  const admits: number[] = [];
  const pairs: number[] = [];
  let seq = 0;
  const deadline = performance.now() + durationMs;
  const worker = async (w: number) => {
    // Each worker keeps to one key: with 64 users of concurrency 4, a worker never waits on another's slot.
    const keySha256 = hashes[w % hashes.length] as Uint8Array;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const { lease } = await channel.call(
        "admit",
        {
          requestId: `req_bench_${process.pid}_${seq++}`,
          keySha256,
          model: "gpt-4o",
          endpoint: Endpoint.RESPONSES,
        } as unknown as OperationRequest<"admit">,
        { timeoutMs: 30_000 },
      );
      const t1 = performance.now();
      await channel.call(
        "release",
        {
          leaseId: lease?.leaseId ?? "",
          ticket: lease?.ticket ?? new Uint8Array(),
          outcome: Outcome.COMPLETED,
          upstreamStatus: 200,
        } as OperationRequest<"release">,
        { timeoutMs: 30_000 },
      );
      admits.push(t1 - t0);
      pairs.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  const stop = await server.start();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = await stop();
  return {
    pairsPerSecond: pairs.length / seconds,
    serverCpuUs: ((cpu.processes[0] ?? 0) * 1000) / pairs.length,
    redisCpuUs: (cpu.redis * 1000) / pairs.length,
    admitP50: percentile(admits, 0.5),
    admitP99: percentile(admits, 0.99),
    pairP50: percentile(pairs, 0.5),
    pairP99: percentile(pairs, 0.99),
  };
}

const switchyard = await startSwitchyard({ label: "bench_leases", dataPlane: false });
const echo = await startServerProcess("bench/support/echo-gateway-server.ts");
const echoRedis = await startServerProcess("bench/support/echo-gateway-server.ts", [
  "--redis",
  "redis://127.0.0.1:6379",
]);
const controlPlane = switchyard.controlPlane;
const echoCpu = new CpuMeter([echo.pid]);
const echoRedisCpu = new CpuMeter([echoRedis.pid]);
const controlPlaneCpu = new CpuMeter([controlPlane.pid]);
try {
  const best = (await seedBestCase(switchyard.admin, "http://127.0.0.1:9", 4)).keys;
  const limited = (await seedOperatorTenants(switchyard.admin, "http://127.0.0.1:9", LIMITED)).keys;
  const rows: string[] = [];
  for (const inFlight of (process.env.BENCH_IN_FLIGHT ?? "1,64").split(",").map(Number)) {
    const bare = leaseChannelTo(echo.url, "unused");
    const floor = leaseChannelTo(echoRedis.url, "unused");
    const real = leaseChannelTo(controlPlane.url, switchyard.dataPlaneToken);
    await Promise.all([bare.waitConnected(5_000), floor.waitConnected(5_000), real.waitConnected(5_000)]);
    await run(real, controlPlaneCpu, limited, inFlight, 1_000); // warm-up: JIT, pools, caches
    const baseline = await run(bare, echoCpu, best, inFlight, DURATION_MS);
    const withRedis = await run(floor, echoRedisCpu, best, inFlight, DURATION_MS);
    const withLimits = await run(real, controlPlaneCpu, limited, inFlight, DURATION_MS);
    const bestCase = await run(real, controlPlaneCpu, best, inFlight, DURATION_MS);
    await Promise.all([bare.close(), floor.close(), real.close()]);
    const fmt = (n: number) => n.toFixed(2);
    const row = (name: string, r: Result) =>
      `| ${inFlight} | ${name} | ${Math.round(r.pairsPerSecond)} | ${(r.pairsPerSecond / baseline.pairsPerSecond).toFixed(2)}× | ${fmt(r.admitP50)} | ${fmt(r.admitP99)} | ${fmt(r.pairP50)} | ${fmt(r.pairP99)} | ${Math.round(r.serverCpuUs)} | ${Math.round(r.redisCpuUs)} |`;
    rows.push(
      row("bare channel (baseline)", baseline),
      row("design floor: the bare channel + one slot script in Redis per operation", withRedis),
      row("control plane + Redis, 64 users × concurrency 4", withLimits),
      row("control plane + Redis, one unlimited user", bestCase),
    );
  }
  process.stdout.write(
    [
      `### Lease channel: admit+release pairs through one control plane (${DURATION_MS / 1000} s per row)`,
      "",
      "| in flight | target | pairs/s | vs bare | admit p50 ms | admit p99 ms | pair p50 ms | pair p99 ms | server CPU µs/pair | Redis CPU µs/pair |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
      "Budget (DESIGN.md §8): ≥ 10,000 pairs/s at 64 in flight with per-user limits in force and ≥ 0.6× the bare",
      "channel; admit p50 at 1 in flight ≤ 2× the bare channel's.",
      "Server CPU is the process answering the channel (the control plane; the echo server for the bare row), read",
      "from /proc; Redis CPU from INFO cpu (the whole server, so other tenants of the same Redis count too).",
      "The design floor answers at once too, after one Lua script on a user slot and an account slot in Redis per",
      "admit and per release (DESIGN.md §3's slots and nothing else): what any implementation of the design pays.",
      "",
    ].join("\n"),
  );
} finally {
  echoCpu.close();
  echoRedisCpu.close();
  controlPlaneCpu.close();
  await Promise.all([echo.stop(), echoRedis.stop(), switchyard.stop()]);
}
