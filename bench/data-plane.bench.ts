import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { AdminService } from "../src/gen/switchyard/v1/admin_pb.js";
import { createTestDatabase } from "../test/support/test-database.js";
import { load } from "./support/load.js";
import { startServerProcess } from "./support/processes.js";

/**
 * The data plane's cost (DESIGN.md §8): added latency over calling the upstream directly (sequential, non-stream
 * /v1/responses, full path: auth, admit, forward, release, usage) and throughput at 50 concurrent against a bare
 * Express 5 + undici pass-through started in the same run.
 */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const REDIS_DB = 4;
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

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function seed(url: string, adminToken: string, upstream: string): Promise<string> {
  const admin = createClient(
    AdminService,
    createGrpcTransport({
      baseUrl: url,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${adminToken}`);
          return next(req);
        },
      ],
    }),
  );
  const { user } = await admin.createUser({ name: "bench", balanceUsd: "1000000", concurrency: 0 });
  const { group } = await admin.createGroup({ name: "bench" });
  await admin.createAccount({
    name: "bench-upstream",
    baseUrl: upstream,
    credential: "sk-bench-upstream",
    concurrency: 100_000,
    groupIds: [group?.id ?? ""],
  });
  const { key } = await admin.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" });
  return key;
}

const db = await createTestDatabase("bench_dp");
const adminToken = randomBytes(12).toString("hex");
const dataPlaneToken = randomBytes(12).toString("hex");
const cpPort = 20_000 + Math.floor(Math.random() * 20_000);
const cpUrl = `http://127.0.0.1:${cpPort}`;
const common = {
  SWITCHYARD_ADMIN_TOKEN: adminToken,
  SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken,
  SWITCHYARD_LOG_LEVEL: "warn",
};
const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const bare = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url]);

// BENCH_PROFILE_DIR=dir writes CPU profiles of the control plane and the data plane there.
const profile = process.env.BENCH_PROFILE_DIR
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
  : [];
const controlPlane = await startServerProcess(
  "bench/support/control-plane-server.ts",
  [],
  {
    ...common,
    SWITCHYARD_DATABASE_URL: db.url,
    SWITCHYARD_REDIS_URL: `redis://127.0.0.1:6379/${REDIS_DB}`,
    SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
    SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${cpPort}`,
  },
  profile,
);
const dataPlane = await startServerProcess(
  "bench/support/data-plane-server.ts",
  [],
  { ...common, SWITCHYARD_CONTROL_PLANE_URL: cpUrl, SWITCHYARD_DATA_PLANE_LISTEN: "127.0.0.1:0" },
  profile,
);
try {
  const key = await seed(cpUrl, adminToken, fake.url);
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
  const added = (p: number) => pct(viaSwitchyard, p) - pct(direct, p);
  process.stdout.write(
    [
      `### Data plane: non-stream /v1/responses, full path (${SEQUENTIAL} sequential requests; c=50 for ${DURATION_S} s)`,
      "",
      "| path | sequential p50 ms | sequential p99 ms | added p50 ms | added p99 ms |",
      "|---|---|---|---|---|",
      `| direct to the fake upstream (baseline) | ${f(pct(direct, 0.5))} | ${f(pct(direct, 0.99))} | — | — |`,
      `| bare Express 5 + undici pass-through | ${f(pct(viaBare, 0.5))} | ${f(pct(viaBare, 0.99))} | ${f(pct(viaBare, 0.5) - pct(direct, 0.5))} | ${f(pct(viaBare, 0.99) - pct(direct, 0.99))} |`,
      `| Switchyard data plane (+ control plane, Redis) | ${f(pct(viaSwitchyard, 0.5))} | ${f(pct(viaSwitchyard, 0.99))} | ${f(added(0.5))} | ${f(added(0.99))} |`,
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
  await Promise.all([dataPlane.stop(), bare.stop(), fake.stop()]);
  await controlPlane.stop();
  await db.drop();
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: REDIS_DB });
  await redis.flushdb();
  redis.disconnect();
}
