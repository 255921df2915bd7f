import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { createClient } from "@connectrpc/connect";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import type { ControlPlaneClientTls } from "../../src/shared/config.js";
import { connectControlPlane } from "../../src/shared/control-plane-transport.js";
import { startFakeOpenAI } from "./fake-openai/index.js";
import { redisNamespace } from "./redis-namespace.js";
import { REPO_ROOT } from "./repo-copy.js";
import { createTestDatabase } from "./test-database.js";

/** Set (to "1") by the e2e global setup once dist/ is built from this tree. */
export const BUILT_VARIABLE = "SWITCHYARD_TEST_BUILT";

/**
 * How to start `switchyard`: the e2e project builds dist/ once before its files (global-setup), so its processes
 * start from there without compiling TypeScript at every start; elsewhere (the faults project) from source.
 */
export function switchyardEntry(): string[] {
  return process.env[BUILT_VARIABLE] === "1" ? ["bin/switchyard.js"] : ["--import", "tsx", "src/cli/main.ts"];
}

/** A process of the stack, with what it printed (for failure messages). */
export interface StackProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM and the exit code. */
  stop(): Promise<number | null>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  return port;
}

function spawnSwitchyard(args: string[], env: Record<string, string>): StackProcess {
  let output = "";
  const child = spawn(process.execPath, [...switchyardEntry(), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", SWITCHYARD_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    output += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    output += c;
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      return code;
    },
  };
}

async function waitForHttp(url: string, process: StackProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null) throw new Error(`process exited early:\n${process.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready in time:\n${process.output()}`);
}

/**
 * The whole product as real processes: a control plane (fresh PostgreSQL database, its own Redis key prefix), one
 * or more data planes, and the fake OpenAI upstream in this process.
 */
export async function startStack(options: {
  label: string;
  dataPlaneEnv?: Record<string, string>;
  /** Extra settings of every control-plane replica (e.g. SWITCHYARD_CHATGPT_TOKEN_URL). */
  controlPlaneEnv?: Record<string, string>;
  /**
   * The control plane over TLS: its server settings (SWITCHYARD_TLS_*), and the client settings every data plane and
   * the test's admin client use. Readiness is then read from a plaintext health port.
   */
  tls?: {
    serverEnv: Record<string, string>;
    client: ControlPlaneClientTls;
    clientEnv: Record<string, string>;
  };
}) {
  const db = await createTestDatabase(options.label);
  const redis = redisNamespace(options.label);
  const fake = await startFakeOpenAI();
  const cpPort = await freePort();
  const adminToken = `admin-${randomBytes(8).toString("hex")}`;
  const dataPlaneToken = `dp-${randomBytes(8).toString("hex")}`;
  const controlPlaneUrl = `${options.tls ? "https" : "http"}://127.0.0.1:${cpPort}`;
  const healthPort = options.tls ? await freePort() : cpPort;
  const shared = { SWITCHYARD_ADMIN_TOKEN: adminToken, SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken };
  const secretKey = randomBytes(32).toString("hex");
  const controlPlaneSettings = {
    ...shared,
    SWITCHYARD_DATABASE_URL: db.url,
    SWITCHYARD_REDIS_URL: redis.url,
    SWITCHYARD_REDIS_PREFIX: redis.prefix,
    SWITCHYARD_SECRET_KEY: secretKey,
    ...options.controlPlaneEnv,
  };
  const controlPlane = spawnSwitchyard(["serve", "control-plane"], {
    ...controlPlaneSettings,
    SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${cpPort}`,
    ...(options.tls
      ? { ...options.tls.serverEnv, SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN: `127.0.0.1:${healthPort}` }
      : {}),
  });
  await waitForHttp(`http://127.0.0.1:${healthPort}/metrics`, controlPlane);
  const adminConnection = connectControlPlane(
    { host: "127.0.0.1", port: cpPort, tls: options.tls !== undefined },
    {
      token: adminToken,
      tls: options.tls?.client ?? { enabled: false, caFile: "", servername: "", certFile: "", keyFile: "" },
      serverName: options.tls?.client.servername || "127.0.0.1",
    },
  );
  const admin = createClient(AdminService, adminConnection.transport);
  const dataPlanes: Array<StackProcess & { url: string }> = [];
  const startDataPlane = async (env: Record<string, string> = {}) => {
    const port = await freePort();
    const dp = spawnSwitchyard(["serve", "data-plane"], {
      ...shared,
      SWITCHYARD_CONTROL_PLANE_URL: controlPlaneUrl,
      SWITCHYARD_DATA_PLANE_LISTEN: `127.0.0.1:${port}`,
      ...options.tls?.clientEnv,
      ...options.dataPlaneEnv,
      ...env,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/readyz`, dp);
    const handle = Object.assign(dp, { url });
    dataPlanes.push(handle);
    return handle;
  };
  const replicas: StackProcess[] = [];
  /** Another control-plane replica on the same database and Redis prefix (plaintext); its URL for data planes. */
  const startControlPlaneReplica = async () => {
    const port = await freePort();
    const replica = spawnSwitchyard(["serve", "control-plane"], {
      ...controlPlaneSettings,
      SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${port}`,
    });
    replicas.push(replica);
    await waitForHttp(`http://127.0.0.1:${port}/metrics`, replica);
    return { url: `http://127.0.0.1:${port}`, process: replica };
  };
  const first = await startDataPlane();
  return {
    admin,
    /** What the CLI needs to reach this control plane (SWITCHYARD_CONTROL_PLANE_URL, SWITCHYARD_ADMIN_TOKEN). */
    cliEnv: { SWITCHYARD_CONTROL_PLANE_URL: controlPlaneUrl, SWITCHYARD_ADMIN_TOKEN: adminToken },
    adminToken,
    fake,
    db,
    /** SWITCHYARD_SECRET_KEY of the control plane (hex), to open what it sealed. */
    secretKey,
    controlPlane,
    controlPlaneUrl,
    startControlPlaneReplica,
    dataPlane: first,
    dataPlanes,
    startDataPlane,
    async stop() {
      adminConnection.close();
      for (const dp of dataPlanes) await dp.stop();
      for (const replica of replicas) await replica.stop();
      await controlPlane.stop();
      await fake.close();
      await db.drop();
      await redis.drop();
    },
  };
}

/** A tenant whose accounts all point at the fake upstream, each with its own upstream key. */
export async function seedStackTenant(
  stack: Awaited<ReturnType<typeof startStack>>,
  options: {
    userConcurrency?: number;
    balanceUsd?: string;
    accounts?: Array<{ concurrency?: number; priority?: number; modelMapping?: Record<string, string> }>;
  } = {},
) {
  const tag = randomBytes(3).toString("hex");
  const { user } = await stack.admin.createUser({
    name: `user-${tag}`,
    balanceUsd: options.balanceUsd ?? "100",
    concurrency: options.userConcurrency ?? 5,
  });
  const { group } = await stack.admin.createGroup({ name: `group-${tag}` });
  const accounts = [];
  for (const [i, a] of (options.accounts ?? [{}]).entries()) {
    const credential = `sk-upstream-${tag}-${i}`;
    const { account } = await stack.admin.createAccount({
      name: `account-${tag}-${i}`,
      baseUrl: stack.fake.url,
      credential,
      concurrency: a.concurrency ?? 10,
      priority: a.priority ?? 50,
      modelMapping: a.modelMapping ?? {},
      groupIds: [group?.id ?? ""],
    });
    accounts.push({ id: account?.id ?? "", credential });
  }
  const { key, apiKey } = await stack.admin.createApiKey({
    userId: user?.id ?? "",
    groupId: group?.id ?? "",
  });
  return { userId: user?.id ?? "", groupId: group?.id ?? "", accounts, key, keyId: apiKey?.id ?? "" };
}
