import { hostname } from "node:os";
import type { MikroORM } from "@mikro-orm/postgresql";
import { Redis } from "ioredis";
import { Counter, Registry } from "prom-client";
import { type Clock, systemClock } from "../shared/clock.js";
import type { Config } from "../shared/config.js";
import { newInstanceId } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import { AccountPicker } from "./domain/admission/account-picker.js";
import { AdmissionService } from "./domain/admission/admission-service.js";
import { LeaseBook } from "./domain/admission/lease-book.js";
import { createCatalog } from "./domain/catalog/index.js";
import { type ChangeFeed, LocalChangeFeed } from "./domain/change-feed.js";
import { CredentialCipher, cipherKey } from "./domain/credential-cipher.js";
import { SnapshotSource } from "./domain/snapshot/snapshot-source.js";
import { build } from "./server.js";
import { createLiveStateAdmin } from "./services/admin-live-state.js";
import { createAdminService } from "./services/admin-service.js";
import { createAdmissionHandlers } from "./services/admission-handlers.js";
import { createGatewayService } from "./services/gateway-service.js";
import { UsageRecorder } from "./services/usage-recorder.js";
import { PostgresDirectory } from "./store/db/directory-store.js";
import { migrate, openDatabase } from "./store/db/orm.js";
import { PostgresUsageLedger, type UnpricedModelListener } from "./store/db/postgres-usage-ledger.js";
import { seedDefaultPrices } from "./store/db/price-seed.js";
import { snapshotPartsLoader } from "./store/db/snapshot-parts.js";
import type { ExpiringMap } from "./store/kv/expiring-map.js";
import { MemoryExpiringMap } from "./store/kv/memory-expiring-map.js";
import { RedisExpiringMap } from "./store/kv/redis-expiring-map.js";
import type { LeaseStore } from "./store/leases/lease-store.js";
import { MemoryLeaseStore } from "./store/leases/memory-lease-store.js";
import { RedisLeaseStore } from "./store/leases/redis-lease-store.js";
import { RedisChangeFeed } from "./store/redis-change-feed.js";

/** A running control plane. */
export interface RunningControlPlane {
  url: string;
  port: number;
  /** Graceful: stops serving, then closes stores. */
  close(): Promise<void>;
}

/** Test seams; production passes nothing. */
export interface ControlPlaneOverrides {
  clock?: Clock;
  tuning?: Parameters<typeof build>[0]["tuning"];
  /** Database connections at most (the embedded PostgreSQL serves one connection at a time). */
  databasePoolMax?: number;
}

/** Live state: Redis when configured (any number of replicas), else memory (one replica). */
interface LiveState {
  leases: LeaseStore;
  kv: ExpiringMap;
  feed: ChangeFeed;
  close(): Promise<void>;
}

/**
 * The composition root of the control plane: reads nothing but `config`, builds every store, domain service and
 * RPC implementation once, and serves them.
 */
export async function startControlPlane(
  config: Config,
  log: Logger,
  overrides: ControlPlaneOverrides = {},
): Promise<RunningControlPlane> {
  const cp = config.controlPlane;
  const clock = overrides.clock ?? systemClock;
  if (cp.databaseUrl === "") {
    throw new Error("SWITCHYARD_DATABASE_URL is required for `serve control-plane`");
  }
  if (cp.secretKey === null)
    throw new Error("SWITCHYARD_SECRET_KEY is required to encrypt upstream credentials");
  const instanceId = newInstanceId(hostname());
  const orm = await openDatabase(cp.databaseUrl, {
    logger: (message) => log.debug({ orm: true }, message),
    ...(overrides.databasePoolMax ? { poolMax: overrides.databasePoolMax } : {}),
  });
  const live = await openLiveState(config, log, instanceId);
  try {
    if (cp.migrateOnStart) {
      const applied = await migrate(orm);
      if (applied.length > 0) log.info({ applied }, "migrations applied");
    }
    await seedDefaultPrices(orm, log);
    const cipher = new CredentialCipher(cipherKey(cp.secretKey));
    const registry = new Registry();
    const onUnpriced = unpricedUsageCounter(registry);
    const { stop, ...implementations } = services({
      config,
      log,
      clock,
      orm,
      live,
      cipher,
      instanceId,
      onUnpriced,
    });
    const server = build({
      ...implementations,
      tokens: { admin: cp.adminToken, dataPlane: cp.dataPlaneToken },
      readiness: () => orm.isConnected(),
      registry,
      log,
      listen: cp.listen,
      ...(overrides.tuning ? { tuning: overrides.tuning } : {}),
    });
    const { url, port } = await server.listen();
    return {
      url,
      port,
      async close() {
        await server.close();
        stop();
        await live.close();
        await orm.close(true);
      },
    };
  } catch (err) {
    await live.close();
    await orm.close(true);
    throw err;
  }
}

function services(deps: {
  config: Config;
  log: Logger;
  clock: Clock;
  orm: MikroORM;
  live: LiveState;
  cipher: CredentialCipher;
  instanceId: string;
  onUnpriced: UnpricedModelListener;
}) {
  const { config, log, clock, orm, live, cipher } = deps;
  const ttl = config.controlPlane.leaseTtlMs;
  const catalog = createCatalog({
    em: orm.em,
    clock,
    changes: live.feed,
    log,
    cipher,
    billingTimezone: config.controlPlane.billingTimezone,
  });
  const directory = new PostgresDirectory({
    orm,
    accounts: catalog.accounts,
    feed: live.feed,
    clock,
    log,
    billingTimezone: config.controlPlane.billingTimezone,
  });
  const book = new LeaseBook(live.kv, clock);
  const picker = new AccountPicker({
    directory,
    leases: live.leases,
    affinity: live.kv,
    clock,
    random: Math.random,
  });
  const admission = new AdmissionService({
    directory,
    leases: live.leases,
    picker,
    book,
    affinity: live.kv,
    clock,
    log,
    leaseTtlMs: ttl,
  });
  const ledger = new PostgresUsageLedger({ orm, feed: live.feed, clock, log, onUnpriced: deps.onUnpriced });
  const stopWatching = admission.watchAbandoned((record) => {
    void ledger
      .record([
        {
          requestId: record.requestId,
          leaseId: record.leaseId,
          userId: record.userId,
          keyId: record.keyId,
          groupId: record.groupId,
          accountId: record.accountId,
          requestedModel: record.model,
          upstreamModel: record.upstreamModel,
          endpoint: record.endpoint === 2 ? "chat_completions" : "responses",
          stream: record.stream,
          tokens: { input: 0, cachedInput: 0, output: 0, reasoning: 0 },
          outcome: "abandoned",
          statusCode: 0,
          firstTokenMs: 0,
          durationMs: Math.max(0, clock.now() - record.acquiredAt),
          failoverCount: Math.max(0, record.attempt - 1),
          upstreamRequestId: "",
          startedAt: record.acquiredAt,
        },
      ])
      .then(() => log.warn({ leaseId: record.leaseId, instanceId: record.instanceId }, "lease abandoned"))
      .catch((err: unknown) => log.error({ err, leaseId: record.leaseId }, "abandoned lease not recorded"));
  });
  const snapshots = new SnapshotSource({ load: snapshotPartsLoader(orm), feed: live.feed, clock, log });
  return {
    stop: () => {
      stopWatching();
      snapshots.close();
      directory.close();
    },
    admin: { ...createAdminService({ catalog, log }), ...createLiveStateAdmin({ book, affinity: live.kv }) },
    gateway: createGatewayService(
      createAdmissionHandlers(admission, new UsageRecorder(ledger, log)),
      snapshots,
      {
        serverId: deps.instanceId,
        leaseTtlMs: ttl,
        maxOutstanding: 10_000,
        log,
      },
    ),
  };
}

/**
 * `switchyard_unpriced_usage_total{model}`: usage billed at cost 0 for want of a price. The ledger only counts
 * records with tokens, i.e. models an upstream actually served, so the label set stays as small as the catalog.
 */
function unpricedUsageCounter(registry: Registry): UnpricedModelListener {
  const counter = new Counter({
    name: "switchyard_unpriced_usage_total",
    help: "Usage records billed at cost 0 because the upstream model has no price, by model.",
    labelNames: ["model"],
    registers: [registry],
  });
  return (model) => counter.inc({ model });
}

async function openLiveState(config: Config, log: Logger, instanceId: string): Promise<LiveState> {
  const { redisUrl: url, redisPrefix: prefix } = config.controlPlane;
  if (url === "") {
    const leases = new MemoryLeaseStore({ log });
    return {
      leases,
      kv: new MemoryExpiringMap(systemClock),
      feed: new LocalChangeFeed(),
      close: () => leases.close(),
    };
  }
  const leases = await RedisLeaseStore.open({
    connection: redisOptions(url),
    keyPrefix: prefix,
    instanceId,
    log,
  });
  const commands = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    enableAutoPipelining: true,
  });
  const subscriber = new Redis(url, { lazyConnect: true });
  await Promise.all([commands.connect(), subscriber.connect()]);
  const feed = new RedisChangeFeed({ publisher: commands, subscriber, prefix, log });
  await feed.start();
  return {
    leases,
    kv: new RedisExpiringMap(commands, prefix),
    feed,
    async close() {
      await leases.close();
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

function redisOptions(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}
