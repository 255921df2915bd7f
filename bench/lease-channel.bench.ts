import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LeaseChannel, type OperationRequest } from "../src/data-plane/control/lease-channel.js";
import { GatewayService } from "../src/gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../src/shared/api-key.js";
import { createLogger } from "../src/shared/logger.js";
import { startServerProcess } from "./support/processes.js";
import { percentile, startSwitchyard } from "./support/switchyard.js";

/**
 * Admit+release pairs per second through one control-plane process (real lease logic: key lookup, user slot and
 * account selection + slot in Redis, lease records), against the same channel with handlers that answer at once
 * (the bare transport round trip), at 1 and 64 requests in flight.
 */
const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 5) * 1000;
const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

interface Result {
  pairsPerSecond: number;
  admitP50: number;
  admitP99: number;
  pairP50: number;
  pairP99: number;
}

function channelTo(url: string, token: string): LeaseChannel {
  const transport = createGrpcTransport({
    baseUrl: url,
    acceptCompression: [],
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  const channel = new LeaseChannel({
    client: createClient(GatewayService, transport),
    instanceId: `bench-${randomBytes(3).toString("hex")}`,
    version: "bench",
    log,
  });
  channel.start();
  return channel;
}

async function run(
  channel: LeaseChannel,
  key: string,
  inFlight: number,
  durationMs: number,
): Promise<Result> {
  const keySha256 = hashApiKey(key);
  const admits: number[] = [];
  const pairs: number[] = [];
  let seq = 0;
  const deadline = performance.now() + durationMs;
  const worker = async () => {
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
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    pairsPerSecond: pairs.length / seconds,
    admitP50: percentile(admits, 0.5),
    admitP99: percentile(admits, 0.99),
    pairP50: percentile(pairs, 0.5),
    pairP99: percentile(pairs, 0.99),
  };
}

const switchyard = await startSwitchyard({ label: "bench_leases", dataPlane: false });
const echo = await startServerProcess("bench/support/echo-gateway-server.ts");
const controlPlane = switchyard.controlPlane;
try {
  const key = await switchyard.seedTenant({ upstream: "http://127.0.0.1:9", accounts: 4 });
  const rows: string[] = [];
  for (const inFlight of (process.env.BENCH_IN_FLIGHT ?? "1,64").split(",").map(Number)) {
    const bare = channelTo(echo.url, "unused");
    const real = channelTo(controlPlane.url, switchyard.dataPlaneToken);
    await Promise.all([bare.waitConnected(5_000), real.waitConnected(5_000)]);
    await run(real, key, inFlight, 1_000); // warm-up: JIT, pools, caches
    const baseline = await run(bare, key, inFlight, DURATION_MS);
    const measured = await run(real, key, inFlight, DURATION_MS);
    await Promise.all([bare.close(), real.close()]);
    const fmt = (n: number) => n.toFixed(2);
    rows.push(
      `| ${inFlight} | bare channel (baseline) | ${Math.round(baseline.pairsPerSecond)} | 1.00× | ${fmt(baseline.admitP50)} | ${fmt(baseline.admitP99)} | ${fmt(baseline.pairP50)} | ${fmt(baseline.pairP99)} |`,
      `| ${inFlight} | control plane + Redis | ${Math.round(measured.pairsPerSecond)} | ${(measured.pairsPerSecond / baseline.pairsPerSecond).toFixed(2)}× | ${fmt(measured.admitP50)} | ${fmt(measured.admitP99)} | ${fmt(measured.pairP50)} | ${fmt(measured.pairP99)} |`,
    );
  }
  process.stdout.write(
    [
      `### Lease channel: admit+release pairs through one control plane (${DURATION_MS / 1000} s per row)`,
      "",
      "| in flight | target | pairs/s | vs bare | admit p50 ms | admit p99 ms | pair p50 ms | pair p99 ms |",
      "|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
    ].join("\n"),
  );
} finally {
  await Promise.all([echo.stop(), switchyard.stop()]);
}
