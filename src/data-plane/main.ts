import { hostname } from "node:os";
import { createClient } from "@connectrpc/connect";
import type { Tracer } from "@opentelemetry/api";
import { GatewayService } from "../gen/switchyard/v1/gateway_pb.js";
import { systemClock } from "../shared/clock.js";
import type { Config } from "../shared/config.js";
import { serverNameOf } from "../shared/control-plane-resolver.js";
import { parseControlPlaneTarget } from "../shared/control-plane-target.js";
import { connectControlPlane } from "../shared/control-plane-transport.js";
import { newInstanceId } from "../shared/ids.js";
import { ipRanges } from "../shared/ip-ranges.js";
import type { Logger } from "../shared/logger.js";
import { ControlPlanePool } from "./control/control-plane-pool.js";
import { LeaseKeeper } from "./control/lease-keeper.js";
import { SnapshotWatcher } from "./control/snapshot-watcher.js";
import { channelUsageSender, UsageReporter } from "./control/usage-reporter.js";
import { createDataPlaneMetrics } from "./metrics.js";
import { AccessLog } from "./observability/access-log.js";
import { listenForMetrics } from "./observability/metrics-listener.js";
import { ModelLabels } from "./observability/model-label.js";
import { RequestObserver } from "./observability/request-observer.js";
import { AuthFailureLimiter } from "./pipeline/auth-failure-limiter.js";
import { build } from "./server.js";
import { UpstreamPool } from "./upstream/upstream-pool.js";

/** A running data plane. */
export interface RunningDataPlane {
  url: string;
  port: number;
  instanceId: string;
  /**
   * Graceful shutdown (SIGTERM): /readyz turns 503 at once; new connections are refused after the configured
   * delay; in-flight requests run to completion up to the grace period; usage is flushed; then everything closes.
   */
  shutdown(): Promise<void>;
}

/** The composition root of the data plane: reads nothing but `config`, builds every part once, serves. */
export async function startDataPlane(
  config: Config,
  log: Logger,
  version = "dev",
  tracer: Tracer | null = null,
): Promise<RunningDataPlane> {
  const dp = config.dataPlane;
  const instanceId = newInstanceId(hostname());
  const target = parseControlPlaneTarget(config.controlPlane.url);
  const keeper = new LeaseKeeper({ log });
  const controlPlane = new ControlPlanePool({
    target,
    tls: config.controlPlane.clientTls.enabled,
    resolveIntervalMs: config.controlPlane.resolveIntervalMs,
    connect: (endpoint) => {
      // Pinged every second, dropped after 2 s of silence: a frozen or partitioned replica is noticed (§3a).
      const connection = connectControlPlane(endpoint, {
        token: config.controlPlane.dataPlaneToken,
        tls: config.controlPlane.clientTls,
        serverName: serverNameOf(target, endpoint, config.controlPlane.clientTls.servername),
        ping: { intervalMs: 1_000, timeoutMs: 2_000 },
      });
      return { client: createClient(GatewayService, connection.transport), close: connection.close };
    },
    instanceId,
    version,
    log,
    unavailableAfterMs: dp.controlPlaneWaitMs,
    reassertion: () => keeper.reassertion(),
  });
  const snapshots = new SnapshotWatcher({ client: () => controlPlane.snapshotClient(), instanceId, log });
  const usage = new UsageReporter({ send: channelUsageSender(controlPlane), log });
  const metrics = createDataPlaneMetrics({
    usage: () => ({ depth: usage.depth, dropped: usage.dropped }),
    leasesHeld: () => keeper.heldByGroup(),
  });
  const observer = new RequestObserver({
    metrics,
    models: new ModelLabels(() => snapshots.current),
    accessLog: new AccessLog(log, config.telemetry.accessLog),
    tracer,
  });
  const pool = new UpstreamPool({
    connectTimeoutMs: dp.upstreamConnectTimeoutMs,
    headersTimeoutMs: dp.upstreamHeadersTimeoutMs,
  });
  let draining = false;
  const settings = () => snapshots.current?.settings;
  const server = build({
    channel: controlPlane,
    keeper,
    snapshots,
    usage,
    metrics,
    observer,
    metricsOnPublicPort: dp.metricsListen === null,
    log,
    limiter: new AuthFailureLimiter({ clock: systemClock }),
    bodyLimitBytes: dp.requestBodyLimitBytes,
    clientAddress: {
      trustedProxies: dp.trustedProxies.length > 0 ? ipRanges(dp.trustedProxies) : null,
      header: dp.clientIpHeader,
    },
    clientHeadersTimeoutMs: dp.clientHeadersTimeoutMs,
    clientBodyTimeoutMs: dp.clientBodyTimeoutMs,
    controlTimeoutMs: dp.admitTimeoutMs,
    attempt: {
      pool,
      get keepaliveMs() {
        return settings()?.streamKeepaliveIntervalMs || 10_000;
      },
      get clientGoneDrainMs() {
        return settings()?.clientGoneDrainMs || 60_000;
      },
      get clientGoneDrainIdleMs() {
        return settings()?.clientGoneDrainIdleMs || 10_000;
      },
      get streamIdleTimeoutMs() {
        return settings()?.streamIdleTimeoutMs || 180_000;
      },
      get passthroughRules() {
        return snapshots.current?.passthroughRules ?? [];
      },
    },
    ready: () => !draining && controlPlane.connected && snapshots.current !== null,
  });
  controlPlane.start();
  keeper.start(controlPlane);
  snapshots.start();
  const { url, port } = await server.listen(dp.listen.host, dp.listen.port);
  const metricsListener = dp.metricsListen
    ? await listenForMetrics(metrics.registry, dp.metricsListen)
    : null;
  log.info(
    { url, metricsUrl: metricsListener?.url, instanceId, controlPlane: config.controlPlane.url },
    "data plane listening",
  );
  return {
    url,
    port,
    instanceId,
    async shutdown() {
      draining = true;
      await sleep(dp.shutdownDelayMs);
      server.stopAccepting();
      const deadline = Date.now() + dp.shutdownGraceMs;
      while (server.inFlight() > 0 && Date.now() < deadline) {
        server.closeIdle();
        await sleep(50);
      }
      server.destroy();
      const unsent = await usage.flush(10_000);
      if (unsent > 0) log.error({ unsent }, "usage records not delivered before exit");
      snapshots.stop();
      keeper.stop();
      await controlPlane.close();
      await pool.close();
      await metricsListener?.close();
      log.info("data plane stopped");
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
