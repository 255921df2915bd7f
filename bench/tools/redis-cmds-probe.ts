import { Redis } from "ioredis";
import { Agent, request } from "undici";
import { startServerProcess } from "../support/processes.js";
import { startSwitchyard } from "../support/switchyard.js";
import { requestHeaders, seedOperatorTenants } from "../support/tenants.js";

/**
 * A profiling harness, not a benchmark: Redis commands per sequential request (INFO commandstats before and after N
 * requests, operator tenants; scripts count with the commands they run). MONITOR=1 then prints every command of two
 * more requests. Counts the whole Redis server: run it alone.
 */
const N = Number(process.env.N ?? 2000);
const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
const sw = await startSwitchyard({ label: "bench_redis_cmds", dataPlane: true });
const dp = sw.dataPlane;
if (!dp) throw new Error("no dp");
const redis = new Redis("redis://127.0.0.1:6379");
const stats = async () => {
  const info = await redis.info("commandstats");
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) out[m[1] as string] = Number(m[2]);
  const s = await redis.info("stats");
  out.__reads = Number(/total_net_input_bytes:(\d+)/.exec(s)?.[1]);
  return out;
};
try {
  const t = await seedOperatorTenants(sw.admin, fake.url);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  const body = JSON.stringify({ model: "gpt-4o", input: "hello" });
  let before: Record<string, number> = {};
  for (let i = 0; i < N + 200; i++) {
    if (i === 200) {
      await new Promise((r) => setTimeout(r, 300));
      before = await stats();
    }
    const res = await request(`${dp.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", ...requestHeaders(t, i) },
      body,
      dispatcher: agent,
    });
    await res.body.text();
  }
  await new Promise((r) => setTimeout(r, 300));
  const after = await stats();
  if (process.env.MONITOR) {
    const monitor = await redis.monitor();
    monitor.on("monitor", (time: string, args: string[]) => {
      process.stdout.write(
        `${time} ${args
          .map((a) => a.slice(0, 60))
          .join(" ")
          .slice(0, 300)}\n`,
      );
    });
    for (let i = 0; i < 2; i++) {
      const res = await request(`${dp.url}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", ...requestHeaders(t, i + 1) },
        body,
        dispatcher: agent,
      });
      await res.body.text();
      process.stdout.write("---- response done\n");
    }
    await new Promise((r) => setTimeout(r, 300));
    monitor.disconnect();
  }
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) process.stdout.write(`${k} ${(d / N).toFixed(2)} per request\n`);
  }
  await agent.close();
} finally {
  redis.disconnect();
  await Promise.all([sw.stop(), fake.stop()]);
}
