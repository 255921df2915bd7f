import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { AdminService } from "../src/gen/switchyard/v1/admin_pb.js";
import { createTestDatabase } from "../test/support/test-database.js";
import { startServerProcess } from "./support/processes.js";

/**
 * Memory of one data plane holding many concurrent SSE streams (DESIGN.md §8: 2,000 streams within 300 MB RSS),
 * against the bare Express + undici pass-through holding the same streams.
 */
const STREAMS = Number(process.env.BENCH_STREAMS ?? 2000);
const REDIS_DB = 4;
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

const db = await createTestDatabase("bench_streams");
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
// Every upstream stream: 20 events, 400 ms apart (~8 s), so all streams are open at the same time.
await fetch(`${fake.url}/__fake/scripts`, {
  method: "POST",
  body: JSON.stringify({ events: 20, eventDelayMs: 400 }),
});
const bare = await startServerProcess("bench/support/bare-express-proxy.ts", [fake.url]);
const controlPlane = await startServerProcess("bench/support/control-plane-server.ts", [], {
  ...common,
  SWITCHYARD_DATABASE_URL: db.url,
  SWITCHYARD_REDIS_URL: `redis://127.0.0.1:6379/${REDIS_DB}`,
  SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
  SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${cpPort}`,
});
const dataPlane = await startServerProcess("bench/support/data-plane-server.ts", [], {
  ...common,
  SWITCHYARD_CONTROL_PLANE_URL: cpUrl,
  SWITCHYARD_DATA_PLANE_LISTEN: "127.0.0.1:0",
});
try {
  const key = await seed(cpUrl, adminToken, fake.url);
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
  await Promise.all([dataPlane.stop(), bare.stop(), fake.stop()]);
  await controlPlane.stop();
  await db.drop();
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: REDIS_DB });
  await redis.flushdb();
  redis.disconnect();
}
