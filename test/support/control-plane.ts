import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ControlPlaneOverrides, startControlPlane } from "../../src/control-plane/main.js";
import { LeaseChannel, type LeaseChannelOptions } from "../../src/data-plane/control/lease-channel.js";
import { AdminService, BillingMode } from "../../src/gen/switchyard/v1/admin_pb.js";
import { GatewayService } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { type Config, loadConfig } from "../../src/shared/config.js";
import { createLogger, type Logger } from "../../src/shared/logger.js";
import { connectClient } from "./grpc-clients.js";
import { redisNamespace } from "./redis-namespace.js";
import { createTestDatabase } from "./test-database.js";

export const ADMIN_TOKEN = "test-admin-token";
export const DATA_PLANE_TOKEN = "test-data-plane-token";

/** A quiet logger for tests (set SWITCHYARD_TEST_LOG=debug to see it). */
export function testLogger(): Logger {
  const level = process.env.SWITCHYARD_TEST_LOG ?? "silent";
  return level === "silent"
    ? createLogger({ level, destination: new Writable({ write: (_c, _e, done) => done() }) })
    : createLogger({ level, destination: process.stderr as unknown as Writable });
}

/** Where a test control plane keeps its state and how it is reached. */
export interface TestControlPlaneOptions {
  leaseTtlMs?: number;
  /** False: in-memory leases. */
  redis?: boolean;
  /** Another Redis than the machine's (e.g. a throwaway redis-server the test restarts). */
  redisUrl?: string;
  /** How the control plane reaches its database, given the test database's URL (e.g. through a proxy). */
  databaseUrl?: (url: string) => string;
  /** A fixed port (so a restarted control plane is found where it was); default: any free one. */
  port?: number;
  overrides?: ControlPlaneOverrides;
}

/**
 * A control plane in this process on real PostgreSQL (a fresh database) and Redis (a fresh key prefix). `pause`
 * stops it (as a crash would, for its clients) and `resume` starts it again on the same port and state.
 */
export async function startTestControlPlane(label: string, options: TestControlPlaneOptions = {}) {
  const db = await createTestDatabase(label);
  const redis = redisNamespace(label, options.redisUrl);
  const base = loadConfig({
    SWITCHYARD_DATABASE_URL: options.databaseUrl ? options.databaseUrl(db.url) : db.url,
    SWITCHYARD_REDIS_URL: options.redis === false ? "" : redis.url,
    SWITCHYARD_REDIS_PREFIX: redis.prefix,
    SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_DATA_PLANE_TOKEN: DATA_PLANE_TOKEN,
    SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${options.port ?? 0}`,
  });
  const config: Config = {
    ...base,
    controlPlane: { ...base.controlPlane, leaseTtlMs: options.leaseTtlMs ?? base.controlPlane.leaseTtlMs },
  };
  let running: Awaited<ReturnType<typeof startControlPlane>> | null = await startControlPlane(
    config,
    testLogger(),
    options.overrides,
  );
  const url = running.url;
  const port = running.port;
  const admin = connectClient(AdminService, url, { protocol: "grpc", token: ADMIN_TOKEN });
  const gateway = connectClient(GatewayService, url, { protocol: "grpc", token: DATA_PLANE_TOKEN });
  return {
    url,
    config,
    db,
    redisPrefix: redis.prefix,
    admin: admin.client,
    gateway: gateway.client,
    /** Stops serving (streams end, the port closes); state stays. */
    async pause() {
      await running?.close();
      running = null;
    },
    /** Serves again on the same port, over the same database and Redis prefix. */
    async resume() {
      const again = {
        ...config,
        controlPlane: { ...config.controlPlane, listen: { host: "127.0.0.1", port } },
      };
      running ??= await startControlPlane(again, testLogger(), options.overrides);
    },
    async stop() {
      admin.close();
      gateway.close();
      await running?.close();
      await db.drop();
      if (options.redis !== false) await redis.drop().catch(() => undefined);
    },
  };
}

/** A user, a group, accounts serving it and an API key: the smallest tenant that can make requests. */
export async function seedTenant(
  admin: Awaited<ReturnType<typeof startTestControlPlane>>["admin"],
  options: {
    userConcurrency?: number;
    accounts?: Array<{
      name?: string;
      concurrency?: number;
      priority?: number;
      modelMapping?: Record<string, string>;
    }>;
    baseUrl?: string;
    balanceUsd?: string;
  } = {},
) {
  const tag = randomBytes(3).toString("hex");
  const { user } = await admin.createUser({
    name: `user-${tag}`,
    balanceUsd: options.balanceUsd ?? "100",
    concurrency: options.userConcurrency ?? 5,
  });
  const { group } = await admin.createGroup({ name: `group-${tag}`, billingMode: BillingMode.BALANCE });
  const accounts = [];
  for (const [i, a] of (options.accounts ?? [{}]).entries()) {
    const { account } = await admin.createAccount({
      name: a.name ?? `account-${tag}-${i}`,
      baseUrl: options.baseUrl ?? "http://127.0.0.1:9",
      credential: `sk-upstream-${tag}-${i}`,
      concurrency: a.concurrency ?? 3,
      priority: a.priority ?? 50,
      modelMapping: a.modelMapping ?? {},
      groupIds: [group?.id ?? ""],
    });
    if (account) accounts.push(account);
  }
  const created = await admin.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" });
  if (!user || !group || !created.apiKey) throw new Error("seeding failed");
  return { user, group, accounts, key: created.key, keyId: created.apiKey.id };
}

/** A "data plane" for tests: its own HTTP/2 connection and lease channel to the control plane at `url`. */
export function dataPlaneChannel(
  url: string,
  instanceId: string,
  options: Partial<Pick<LeaseChannelOptions, "reassertion" | "unavailableAfterMs">> = {},
): LeaseChannel {
  const transport = createGrpcTransport({
    baseUrl: url,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${DATA_PLANE_TOKEN}`);
        return next(req);
      },
    ],
  });
  const channel = new LeaseChannel({
    client: createClient(GatewayService, transport),
    instanceId,
    version: "test",
    log: testLogger(),
    ...options,
  });
  channel.start();
  return channel;
}
