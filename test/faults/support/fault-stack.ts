import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { AdminService } from "../../../src/gen/switchyard/v1/admin_pb.js";
import { type FakeOpenAI, type FakeOpenAIOptions, startFakeOpenAI } from "../../support/fake-openai/index.js";
import { connectClient } from "../../support/grpc-clients.js";
import { freePort } from "./conditions.js";
import { type PostgresInstance, startPostgres } from "./postgres-instance.js";
import { type RedisInstance, startRedis } from "./redis-instance.js";
import { registerSecrets } from "./run-folder.js";
import { SwitchyardProcess } from "./switchyard-process.js";

/** SWITCHYARD_LEASE_TTL_MS of a fault stack's control planes unless a scenario says otherwise. */
export const DEFAULT_LEASE_TTL_MS = 6_000;

/** What a fault scenario runs against. */
export interface FaultStackOptions {
  /** Names the processes' log files, e.g. "dp-crash". */
  label: string;
  /** Control-plane replicas sharing the PostgreSQL and Redis (default 1). */
  controlPlanes?: number;
  /** SWITCHYARD_LEASE_TTL_MS of the control planes (default 6 s: expiries within a test's patience). */
  leaseTtlMs?: number;
  /** Extra environment of every control plane. */
  controlPlaneEnv?: Record<string, string>;
  /** Start control planes with the inspector, for heap readings. */
  inspectControlPlanes?: boolean;
  /**
   * Loopback addresses the replicas listen on, all on one port (as pods behind a headless Service do); by default
   * each replica gets its own port on 127.0.0.1.
   */
  controlPlaneHosts?: string[];
}

/** Options of one data plane. */
export interface DataPlaneOptions {
  /** Its name in logs (default `dp-<n>`). */
  name?: string;
  /** Extra environment (timeouts, …). */
  env?: Record<string, string>;
  /** The replica it connects to (default the first). */
  controlPlane?: SwitchyardProcess;
  inspect?: boolean;
}

/**
 * A whole deployment on private instances: one PostgreSQL and one Redis of its own, control-plane replicas and
 * data planes as real processes, fake upstreams in this process, an AdminService client. Everything it started is
 * stopped and deleted by `stop()` — call it from afterAll even when a test failed.
 */
export class FaultStack {
  readonly label: string;
  readonly postgres: PostgresInstance;
  readonly redis: RedisInstance;
  readonly controlPlanes: SwitchyardProcess[] = [];
  readonly dataPlanes: SwitchyardProcess[] = [];
  readonly fakes: FakeOpenAI[] = [];
  readonly tokens = {
    admin: `admin-${randomBytes(16).toString("hex")}`,
    dataPlane: `dp-${randomBytes(16).toString("hex")}`,
  };
  readonly #secretKey = randomBytes(32).toString("hex");
  readonly #closers: Array<() => void> = [];

  private constructor(label: string, postgres: PostgresInstance, redis: RedisInstance) {
    this.label = label;
    this.postgres = postgres;
    this.redis = redis;
    registerSecrets({
      "admin token": this.tokens.admin,
      "data-plane token": this.tokens.dataPlane,
      "secret key": this.#secretKey,
    });
  }

  /** Starts PostgreSQL, Redis and the control planes (one after the other: the first one migrates). */
  static async start(options: FaultStackOptions): Promise<FaultStack> {
    const postgres = await startPostgres(`${options.label}-postgres`);
    const redis = await startRedis(`${options.label}-redis`).catch(async (err: unknown) => {
      await postgres.destroy();
      throw err;
    });
    const stack = new FaultStack(options.label, postgres, redis);
    try {
      const count = options.controlPlaneHosts?.length ?? options.controlPlanes ?? 1;
      const port = options.controlPlaneHosts ? await freePort() : undefined;
      for (let i = 0; i < count; i++) {
        const host = options.controlPlaneHosts?.[i];
        await stack.addControlPlane(
          options,
          host === undefined || port === undefined ? undefined : { host, port },
        );
      }
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** The first control-plane replica. */
  get controlPlane(): SwitchyardProcess {
    const first = this.controlPlanes[0];
    if (!first) throw new Error("no control plane");
    return first;
  }

  /** An AdminService client of a replica (default the first), authenticated with the admin token. */
  adminOf(replica: SwitchyardProcess = this.controlPlane): Client<typeof AdminService> {
    const handle = connectClient(AdminService, replica.url, { protocol: "grpc", token: this.tokens.admin });
    this.#closers.push(handle.close);
    return handle.client;
  }

  /** Starts a data plane connected to one replica and waits until /readyz answers 200. */
  async startDataPlane(options: DataPlaneOptions = {}): Promise<SwitchyardProcess> {
    const dp = new SwitchyardProcess({
      plane: "data-plane",
      name: `${this.label}-${options.name ?? `dp-${this.dataPlanes.length + 1}`}`,
      port: await freePort(),
      inspect: options.inspect ?? false,
      env: {
        SWITCHYARD_CONTROL_PLANE_URL: (options.controlPlane ?? this.controlPlane).url,
        SWITCHYARD_DATA_PLANE_TOKEN: this.tokens.dataPlane,
        SWITCHYARD_SHUTDOWN_GRACE_MS: "2000",
        ...options.env,
      },
    });
    this.dataPlanes.push(dp);
    await dp.start();
    return dp;
  }

  /** A fake OpenAI upstream of this stack (closed by `stop()`); give each tenant its own to count its streams. */
  async startFake(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const fake = await startFakeOpenAI(options);
    this.fakes.push(fake);
    return fake;
  }

  /** Stops every process and deletes the instances' data; never throws, so afterAll always completes. */
  async stop(): Promise<void> {
    for (const close of this.#closers.splice(0)) close();
    await Promise.allSettled(this.dataPlanes.map((dp) => dp.terminate(5_000)));
    await Promise.allSettled(this.controlPlanes.map((cp) => cp.terminate(15_000)));
    await Promise.allSettled(this.fakes.map((fake) => fake.close()));
    await Promise.allSettled([this.redis.destroy(), this.postgres.destroy()]);
  }

  /** Starts one more control-plane replica (on `at`, else a free port of 127.0.0.1) and waits until it serves. */
  async addControlPlane(
    options: FaultStackOptions,
    at?: { host: string; port: number },
  ): Promise<SwitchyardProcess> {
    const index = this.controlPlanes.length;
    const cp = new SwitchyardProcess({
      plane: "control-plane",
      name: `${this.label}-cp-${String.fromCharCode(97 + index)}`,
      port: at?.port ?? (await freePort()),
      ...(at ? { host: at.host } : {}),
      inspect: options.inspectControlPlanes ?? false,
      env: {
        SWITCHYARD_DATABASE_URL: this.postgres.url,
        SWITCHYARD_REDIS_URL: this.redis.url,
        SWITCHYARD_SECRET_KEY: this.#secretKey,
        SWITCHYARD_ADMIN_TOKEN: this.tokens.admin,
        SWITCHYARD_DATA_PLANE_TOKEN: this.tokens.dataPlane,
        SWITCHYARD_LEASE_TTL_MS: String(options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS),
        ...options.controlPlaneEnv,
      },
    });
    this.controlPlanes.push(cp);
    await cp.start();
    return cp;
  }
}
