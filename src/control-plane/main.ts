import { hostname } from "node:os";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Tracer } from "@opentelemetry/api";
import { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { type Clock, systemClock } from "../shared/clock.js";
import type { Config } from "../shared/config.js";
import { newInstanceId } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import { createMetricsRegistry } from "../shared/telemetry/prometheus.js";
import { tracedMethods } from "../shared/telemetry/tracing.js";
import { chatgptTokenEndpoint } from "./clients/chatgpt-token-endpoint.js";
import { createControlPlaneMetrics } from "./control-plane-metrics.js";
import { abandonedUsage, watchAbandonedLeases } from "./domain/admission/abandoned-leases.js";
import { AccountPicker } from "./domain/admission/account-picker.js";
import { AdmissionService } from "./domain/admission/admission-service.js";
import { LeaseBook } from "./domain/admission/lease-book.js";
import { LeaseKeeping } from "./domain/admission/lease-keeping.js";
import { LeaseTickets } from "./domain/admission/lease-ticket.js";
import { TrafficWindow } from "./domain/admission/traffic-window.js";
import { WaitingRequests } from "./domain/admission/waiting-requests.js";
import { createCatalog, type UsageWindowsRecord } from "./domain/catalog/index.js";
import { type ChangeFeed, LocalChangeFeed } from "./domain/change-feed.js";
import { CredentialCipher, cipherKey } from "./domain/credential-cipher.js";
import { refreshingCredentials } from "./domain/oauth/account-credentials.js";
import { ChatGptTokens } from "./domain/oauth/chatgpt-tokens.js";
import { UsageWindows } from "./domain/oauth/usage-windows.js";
import { SnapshotSource } from "./domain/snapshot/snapshot-source.js";
import { build, loadServerTls } from "./server.js";
import { createLiveFigureAdmin } from "./services/admin-live-figures.js";
import { createLiveStateAdmin } from "./services/admin-live-state.js";
import { createAdminService } from "./services/admin-service.js";
import { createAdmissionHandlers } from "./services/admission-handlers.js";
import { ChannelRegistry } from "./services/channel-registry.js";
import { createGatewayService } from "./services/gateway-service.js";
import { UsageRecorder } from "./services/usage-recorder.js";
import { PostgresDirectory } from "./store/db/directory-store.js";
import { migrate, openDatabase } from "./store/db/orm.js";
import { PostgresUsageLedger } from "./store/db/postgres-usage-ledger.js";
import { seedDefaultPrices } from "./store/db/price-seed.js";
import { snapshotPartsLoader } from "./store/db/snapshot-parts.js";
import type { ExpiringMap } from "./store/kv/expiring-map.js";
import { LocallyCachedMap } from "./store/kv/locally-cached-map.js";
import { MemoryExpiringMap } from "./store/kv/memory-expiring-map.js";
import { RedisExpiringMap } from "./store/kv/redis-expiring-map.js";
import type { LeaseStore } from "./store/leases/lease-store.js";
import { MemoryLeaseStore } from "./store/leases/memory-lease-store.js";
import { RedisLeaseStore } from "./store/leases/redis-lease-store.js";
import { MemoryRequestRate } from "./store/rates/memory-request-rate.js";
import { RedisRequestRate } from "./store/rates/redis-request-rate.js";
import type { RequestRate } from "./store/rates/request-rate.js";
import { RedisChangeFeed } from "./store/redis-change-feed.js";
import { watchLiveness } from "./store/redis-liveness.js";
import { createUsageMetrics, type UsageMetrics } from "./usage-metrics.js";
import { createUsageWindowMetrics } from "./usage-window-metrics.js";

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
  /** Set when tracing is on: lease-channel operations then join the data plane's traces. */
  tracer?: Tracer | null;
}

/** Live state: Redis when configured (any number of replicas), else memory (one replica). */
interface LiveState {
  leases: LeaseStore;
  kv: ExpiringMap;
  rates: RequestRate;
  feed: ChangeFeed;
  /**
   * Called when the live state came back after being lost (every connection it needs is ready again): holders must
   * re-assert their leases. Returns a function that removes the listener.
   */
  onRestored(listener: () => void): () => void;
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
  // Before any connection is opened: a bad certificate file fails start with one line naming its variable.
  const tls = cp.serverTls === null ? null : loadServerTls(cp.serverTls);
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
    const registry = createMetricsRegistry();
    const usageMetrics = createUsageMetrics(registry);
    const { stop, ...implementations } = services({
      registry,
      tracer: overrides.tracer ?? null,
      config,
      log,
      clock,
      orm,
      live,
      cipher,
      instanceId,
      secretKey: cp.secretKey,
      usageMetrics,
      onUsageWindows: createUsageWindowMetrics(registry),
    });
    const server = build({
      ...implementations,
      tokens: {
        admin: cp.adminToken,
        dataPlane: cp.dataPlaneToken,
        adminPrevious: cp.adminTokenPrevious,
        dataPlanePrevious: cp.dataPlaneTokenPrevious,
      },
      readiness: () => orm.isConnected(),
      registry,
      log,
      listen: cp.listen,
      tls,
      healthListen: cp.healthListen,
      uiDir: cp.uiDir,
      ...(overrides.tuning ? { tuning: overrides.tuning } : {}),
    });
    const { url, port } = await server.listen();
    return {
      url,
      port,
      async close() {
        await server.close();
        await stop();
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
  secretKey: Buffer;
  usageMetrics: UsageMetrics;
  onUsageWindows: (accountId: string, windows: UsageWindowsRecord) => void;
  registry: Registry;
  tracer: Tracer | null;
}) {
  const { config, log, clock, orm, live, cipher, tracer } = deps;
  const ttl = config.controlPlane.leaseTtlMs;
  // With tracing on, calls into PostgreSQL and Redis become child spans of the operation being served.
  const traced = <T extends object>(target: T, prefix: string, system: string): T =>
    tracer ? tracedMethods(target, tracer, prefix, { "db.system.name": system }) : target;
  const redis = config.controlPlane.redisUrl !== "";
  const leases = redis ? traced(live.leases, "redis lease-store", "redis") : live.leases;
  const kv = redis ? traced(live.kv, "redis kv", "redis") : live.kv;
  const metrics = createControlPlaneMetrics(deps.registry, () => admission.waitingByGroup());
  const catalog = createCatalog({
    em: orm.em,
    clock,
    changes: live.feed,
    log,
    cipher,
    billingTimezone: config.controlPlane.billingTimezone,
    chatgptBaseUrl: config.controlPlane.chatgptCodexBaseUrl,
  });
  const postgresDirectory = new PostgresDirectory({
    orm,
    accounts: catalog.accounts,
    feed: live.feed,
    clock,
    log,
    billingTimezone: config.controlPlane.billingTimezone,
  });
  const directory = metrics.countingCooldowns(
    traced(postgresDirectory, "postgresql directory", "postgresql"),
  );
  const book = new LeaseBook(kv, clock);
  // Sticky bindings and response pins: a conversation's next request on this replica skips the round trip.
  const affinity = new LocallyCachedMap(kv, {
    ttlMs: AFFINITY_LOCAL_TTL_MS,
    maxEntries: 100_000,
    clock,
  });
  const picker = new AccountPicker({
    directory,
    leases,
    affinity,
    clock,
    random: Math.random,
  });
  const tickets = new LeaseTickets(deps.secretKey);
  const waiting = new WaitingRequests(live.kv, clock, log);
  const traffic = new TrafficWindow(clock);
  const tokens = new ChatGptTokens({
    vault: catalog.chatgptState,
    endpoint: chatgptTokenEndpoint(config.controlPlane.chatgptTokenUrl),
    locks: live.kv,
    clock,
    log,
    markError: (accountId, reason) => catalog.chatgptState.markError(accountId, reason),
  });
  const admission = new AdmissionService({
    waiting,
    directory,
    leases,
    picker,
    book,
    tickets,
    affinity,
    rates: live.rates,
    clock,
    log,
    leaseTtlMs: ttl,
    credentials: refreshingCredentials(tokens),
  });
  const keeping = new LeaseKeeping({
    directory,
    leases,
    book,
    tickets,
    affinity,
    clock,
    log,
    windows: new UsageWindows({
      store: catalog.chatgptState,
      directory,
      clock,
      log,
      onReport: deps.onUsageWindows,
    }),
  });
  const ledger = new PostgresUsageLedger({
    orm,
    feed: live.feed,
    clock,
    log,
    onUnpriced: deps.usageMetrics.unpriced,
    onRefused: deps.usageMetrics.refused,
    onBilled: metrics.billed,
  });
  const stopWatching = watchAbandonedLeases({ leases, book, clock, log }, async (record) => {
    await ledger.record([abandonedUsage(record, clock.now())]);
    log.warn({ leaseId: record.leaseId, instanceId: record.instanceId }, "lease abandoned");
  });
  const registry = new ChannelRegistry();
  // A lease store back from an outage may have lost every lease: data planes re-assert theirs before new admits.
  const stopReasserting = live.onRestored(() =>
    admission.holdAdmits(registry.requestReassert(REASSERT_HOLD_MS)),
  );
  const snapshots = new SnapshotSource({ load: snapshotPartsLoader(orm), feed: live.feed, clock, log });
  const usageRecorder = new UsageRecorder({
    ledger: traced(ledger, "postgresql usage-ledger", "postgresql"),
    tickets,
    log,
    clock,
    onOutOfRange: deps.usageMetrics.outOfRange,
  });
  return {
    stop: async () => {
      // Usage records carried by releases (answered or not): written before the database closes, for up to 10 s.
      await usageRecorder.flush(10_000);
      stopWatching();
      stopReasserting();
      snapshots.close();
      postgresDirectory.close();
    },
    admin: {
      ...createAdminService({ catalog, log }),
      ...createLiveStateAdmin({ book, affinity }),
      ...createLiveFigureAdmin({
        book,
        waiting,
        traffic,
        usage: catalog.usage,
        clock,
        billingTimezone: config.controlPlane.billingTimezone,
      }),
    },
    gateway: createGatewayService(
      createAdmissionHandlers(admission, keeping, usageRecorder, traffic),
      snapshots,
      {
        serverId: deps.instanceId,
        leaseTtlMs: ttl,
        maxOutstanding: 10_000,
        registry,
        log,
        tracer,
        observeBatch: metrics.channelBatch,
      },
    ),
  };
}

/** How long new admits wait for data planes to re-assert their leases after a lease-store outage. */
const REASSERT_HOLD_MS = 2_000;
/**
 * How long this replica answers a sticky binding or response pin from memory: a binding another replica changes
 * meanwhile is followed this much later (a prompt-cache miss at worst).
 */
const AFFINITY_LOCAL_TTL_MS = 5_000;

async function openLiveState(config: Config, log: Logger, instanceId: string): Promise<LiveState> {
  const { redisUrl: url, redisPrefix: prefix } = config.controlPlane;
  if (url === "") {
    const leases = new MemoryLeaseStore({ log });
    return {
      leases,
      kv: new MemoryExpiringMap(systemClock),
      rates: new MemoryRequestRate(),
      feed: new LocalChangeFeed(),
      onRestored: (listener) => leases.onReconnected(listener),
      close: () => leases.close(),
    };
  }
  const leases = await RedisLeaseStore.open({
    connection: redisOptions(url),
    keyPrefix: prefix,
    instanceId,
    log,
  });
  // Fail closed like the lease store's: lease records and sticky bindings are read on the hot path, which must get
  // a fast 503 while Redis cannot answer, not wait until it is back.
  const commands = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    lazyConnect: true,
    enableAutoPipelining: true,
    retryStrategy: reconnectSoon,
  });
  const subscriber = new Redis(url, { lazyConnect: true, retryStrategy: reconnectSoon });
  await Promise.all([commands.connect(), subscriber.connect()]);
  const unwatch = [
    watchLiveness(commands, { name: "commands", log }),
    watchLiveness(subscriber, { name: "change feed", log }),
  ];
  const feed = new RedisChangeFeed({ publisher: commands, subscriber, prefix, log });
  await feed.start();
  return {
    leases,
    kv: new RedisExpiringMap(commands, prefix),
    rates: new RedisRequestRate(commands, prefix),
    feed,
    // Lease records live on the command connection: re-assertion waits until it is back too.
    onRestored: (listener) => leases.onReconnected(() => void whenReady(commands, 2_000).then(listener)),
    async close() {
      for (const stop of unwatch) stop();
      await leases.close();
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

/** A command on the control plane's Redis connection without an answer after this long fails (ms). */
const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/** Redis reconnect backoff of the control plane's connections: Redis back means served again within half a second. */
function reconnectSoon(attempt: number): number {
  return Math.min(attempt * 100, 500);
}

/** Resolves when the connection is ready, or after `timeoutMs` (the caller then goes on and may fail fast). */
function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.on("ready", done);
  });
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
