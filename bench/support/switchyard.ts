import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { redisNamespace } from "../../test/support/redis-namespace.js";
import { createTestDatabase } from "../../test/support/test-database.js";
import { type ServerProcess, startServerProcess } from "./processes.js";
import type { Admin } from "./tenants.js";

/**
 * BENCH_PROFILE_DIR=dir writes CPU profiles of the Switchyard processes there (open them in Chrome DevTools);
 * BENCH_NODE_ARGS adds Node options to both processes (e.g. `--perf-basic-prof` for `perf record`).
 */
const PROFILE_ARGS = [
  ...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
  ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
];

/** Switchyard as a benchmark runs it: a control plane (and optionally a data plane) as their own processes. */
export interface BenchSwitchyard {
  controlPlane: ServerProcess;
  /** Present when started with `dataPlane: true`. */
  dataPlane: ServerProcess | null;
  dataPlaneToken: string;
  /**
   * A user with unlimited concurrency and a large balance, a group, `accounts` accounts at `upstream` with room for
   * any load, and an API key; returns the key.
   */
  /** AdminService of the control plane, with the admin token. */
  admin: Admin;
  stop(): Promise<void>;
}

/**
 * Starts the control plane on a fresh PostgreSQL database and a Redis key prefix of its own (deleted on stop), and
 * a data plane pointing at it when asked.
 */
export async function startSwitchyard(options: {
  label: string;
  dataPlane: boolean;
}): Promise<BenchSwitchyard> {
  const db = await createTestDatabase(options.label);
  const redis = redisNamespace(options.label);
  const adminToken = randomBytes(16).toString("hex");
  const dataPlaneToken = randomBytes(16).toString("hex");
  const common = {
    SWITCHYARD_ADMIN_TOKEN: adminToken,
    SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken,
    SWITCHYARD_LOG_LEVEL: "warn",
  };
  const controlPlane = await startServerProcess(
    "bench/support/control-plane-server.ts",
    [],
    {
      ...common,
      SWITCHYARD_DATABASE_URL: db.url,
      SWITCHYARD_REDIS_URL: redis.url,
      SWITCHYARD_REDIS_PREFIX: redis.prefix,
      SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
      SWITCHYARD_CONTROL_PLANE_LISTEN: "127.0.0.1:0",
    },
    PROFILE_ARGS,
  );
  const cpUrl = controlPlane.url;
  const dataPlane = options.dataPlane
    ? await startServerProcess(
        "bench/support/data-plane-server.ts",
        [],
        {
          ...common,
          // Info, so the access log (a line per request) is part of what is measured.
          SWITCHYARD_LOG_LEVEL: "info",
          SWITCHYARD_CONTROL_PLANE_URL: cpUrl,
          SWITCHYARD_DATA_PLANE_LISTEN: "127.0.0.1:0",
        },
        PROFILE_ARGS,
      )
    : null;
  return {
    controlPlane,
    dataPlane,
    dataPlaneToken,
    admin: createClient(
      AdminService,
      createGrpcTransport({
        baseUrl: cpUrl,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${adminToken}`);
            return next(req);
          },
        ],
      }),
    ),
    async stop() {
      await dataPlane?.stop();
      await controlPlane.stop();
      await db.drop();
      await redis.drop();
    },
  };
}

/** The p-quantile (0..1) of samples. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
