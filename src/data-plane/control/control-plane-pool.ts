import type { Client } from "@connectrpc/connect";
import type { GatewayService, ReassertLeases } from "../../gen/switchyard/v1/gateway_pb.js";
import { resolveControlPlane } from "../../shared/control-plane-resolver.js";
import {
  type ControlPlaneEndpoint,
  type ControlPlaneTarget,
  endpointUrl,
} from "../../shared/control-plane-target.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { OutageLog } from "../../shared/outage-log.js";
import {
  type CallOptions,
  type ControlPlaneCalls,
  LeaseChannel,
  type OperationInit,
  type OperationKind,
  type OperationResponse,
} from "./lease-channel.js";

/** A GatewayService client of one replica, and how to let its connection go. */
export interface ReplicaConnection {
  client: Client<typeof GatewayService>;
  close(): void;
}

/** Settings of {@link ControlPlanePool}. */
export interface ControlPlanePoolOptions {
  target: ControlPlaneTarget;
  /** TLS for dns: targets (URLs carry their own scheme). */
  tls: boolean;
  /** How often a dns: target is resolved again; a failure asks again sooner. */
  resolveIntervalMs: number;
  /** Opens a client to one replica (TLS, token and keepalive are its business). */
  connect: (endpoint: ControlPlaneEndpoint) => ReplicaConnection;
  instanceId: string;
  version: string;
  log: Logger;
  /** With no replica connected, how long a client-facing call waits for one (SWITCHYARD_CONTROL_PLANE_WAIT_MS). */
  unavailableAfterMs: number;
  /** The data plane's live leases, re-asserted on every channel's open and when a replica asks. */
  reassertion: () => ReassertLeases;
  /** The replicas a target names now; defaults to DNS (tests may stand in). */
  resolve?: (target: ControlPlaneTarget, tls: boolean) => Promise<ControlPlaneEndpoint[]>;
}

/** One control-plane replica: its connection and its lease channel. */
interface Replica {
  readonly key: string;
  readonly endpoint: ControlPlaneEndpoint;
  readonly connection: ReplicaConnection;
  readonly channel: LeaseChannel;
}

const RESOLVE_RETRY_MIN_MS = 500;

/**
 * Every control-plane replica, from the data plane (DESIGN.md §3a, issue "replicas"): one lease channel per replica
 * of the target (a list, or a dns: name re-resolved every interval and at once when a replica fails). Calls go to
 * the connected replica with the fewest unanswered calls; when a replica's stream breaks, its unanswered calls that
 * may be sent again move at once to another connected replica (admits are idempotent by request id, and leases
 * belong to this data plane, not to a replica, so renew and release work through any). With no replica connected,
 * calls a client waits for fail after `unavailableAfterMs`.
 */
export class ControlPlanePool implements ControlPlaneCalls {
  readonly #options: ControlPlanePoolOptions;
  readonly #replicas = new Map<string, Replica>();
  readonly #outage: OutageLog;
  readonly #replicaAdded: Array<() => void> = [];
  #timer: NodeJS.Timeout | null = null;
  #resolving: Promise<void> | null = null;
  #retryMs = RESOLVE_RETRY_MIN_MS;
  #closed = false;

  constructor(options: ControlPlanePoolOptions) {
    this.#options = options;
    this.#outage = new OutageLog(options.log, "control-plane name resolution");
  }

  /** Resolves the target and opens a channel per replica; keeps doing so until {@link close}. */
  start(): void {
    this.#scheduleResolve(0);
  }

  /** Whether at least one replica's channel is connected. */
  get connected(): boolean {
    for (const r of this.#replicas.values()) if (r.channel.connected) return true;
    return false;
  }

  /** The replicas in use (for logs, metrics and tests). */
  replicas(): Array<{ url: string; connected: boolean; outstanding: number }> {
    return [...this.#replicas.values()].map((r) => ({
      url: endpointUrl(r.endpoint),
      connected: r.channel.connected,
      outstanding: r.channel.outstanding,
    }));
  }

  /** Not `async`: with a replica at hand (every call but the first ones) the channel's own promise is returned. */
  call<K extends OperationKind>(
    kind: K,
    request: OperationInit<K>,
    options: CallOptions,
  ): Promise<OperationResponse<K>> {
    if (this.#closed) return Promise.reject(new SwitchyardError(ErrorCode.SHUTTING_DOWN));
    const channel = this.#pick();
    if (channel) return channel.call(kind, request, options);
    return this.#waitForReplica(options.signal).then((c) => c.call(kind, request, options));
  }

  /** A GatewayService client for server streams (the config snapshot): a connected replica's, else any. */
  snapshotClient(): Client<typeof GatewayService> | null {
    const replicas = [...this.#replicas.values()];
    const live = replicas.filter((r) => r.channel.connected);
    const pool = live.length > 0 ? live : replicas;
    return pool[Math.floor(Math.random() * pool.length)]?.connection.client ?? null;
  }

  /** Stops resolving, closes every channel (failing what is pending) and connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.all([...this.#replicas.values()].map((r) => this.#drop(r)));
  }

  /** The connected replica with the fewest unanswered calls; else any replica (its call waits to connect). */
  #pick(): LeaseChannel | null {
    let best: Replica | null = null;
    for (const r of this.#replicas.values()) {
      if (!r.channel.connected) continue;
      if (best === null || r.channel.outstanding < best.channel.outstanding) best = r;
    }
    if (best) return best.channel;
    return this.#replicas.values().next().value?.channel ?? null;
  }

  /** No replica is known yet (the name does not resolve): wait for one, as long as a disconnected call would. */
  #waitForReplica(signal?: AbortSignal): Promise<LeaseChannel> {
    return new Promise((resolve, reject) => {
      const fail = () => reject(unavailable("control plane not reachable (no replica resolved)"));
      const timer = setTimeout(fail, this.#options.unavailableAfterMs);
      signal?.addEventListener("abort", fail, { once: true });
      this.#replicaAdded.push(() => {
        clearTimeout(timer);
        const channel = this.#pick();
        if (channel) resolve(channel);
        else fail();
      });
    });
  }

  #scheduleResolve(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#refresh(), delayMs);
    this.#timer.unref();
  }

  /** Resolves now (unless a resolution is already running) and brings the replica set in line with it. */
  #refresh(): Promise<void> {
    this.#resolving ??= this.#resolveOnce().finally(() => {
      this.#resolving = null;
    });
    return this.#resolving;
  }

  async #resolveOnce(): Promise<void> {
    const { target, tls } = this.#options;
    try {
      const endpoints = await (this.#options.resolve ?? resolveControlPlane)(target, tls);
      this.#outage.ok();
      this.#retryMs = RESOLVE_RETRY_MIN_MS;
      this.#apply(endpoints);
      if (target.kind === "dns") this.#scheduleResolve(this.#options.resolveIntervalMs);
    } catch (err) {
      this.#outage.failed(err);
      this.#scheduleResolve(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, this.#options.resolveIntervalMs);
    }
  }

  #apply(endpoints: readonly ControlPlaneEndpoint[]): void {
    const wanted = new Map(endpoints.map((e) => [`${e.host}:${e.port}:${e.tls}`, e]));
    for (const [key, endpoint] of wanted) if (!this.#replicas.has(key)) this.#add(key, endpoint);
    const gone = [...this.#replicas.values()].filter((r) => !wanted.has(r.key));
    for (const r of gone) {
      this.#replicas.delete(r.key);
      this.#options.log.info({ replica: endpointUrl(r.endpoint) }, "control-plane replica removed");
      const calls = r.channel.handOver();
      this.#pick()?.adopt(calls);
      void this.#drop(r);
    }
    for (const notify of this.#replicaAdded.splice(0)) notify();
  }

  #add(key: string, endpoint: ControlPlaneEndpoint): void {
    const connection = this.#options.connect(endpoint);
    const channel = new LeaseChannel({
      client: connection.client,
      instanceId: this.#options.instanceId,
      version: this.#options.version,
      log: this.#options.log.child({ replica: endpointUrl(endpoint) }),
      unavailableAfterMs: this.#options.unavailableAfterMs,
      reassertion: this.#options.reassertion,
      onStateChange: (connected) => this.#onStateChange(connected),
    });
    this.#replicas.set(key, { key, endpoint, connection, channel });
    channel.start();
  }

  /** A replica came or went: move calls off disconnected ones; a loss also asks DNS again at once. */
  #onStateChange(connected: boolean): void {
    const live = [...this.#replicas.values()].filter((r) => r.channel.connected);
    if (live.length > 0) {
      for (const r of this.#replicas.values()) {
        if (r.channel.connected || r.channel.outstanding === 0) continue;
        this.#pick()?.adopt(r.channel.handOver());
      }
    }
    if (!connected && this.#options.target.kind === "dns") this.#scheduleResolve(0);
  }

  async #drop(r: Replica): Promise<void> {
    await r.channel.close();
    r.connection.close();
  }
}

function unavailable(message: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, { message, retryAfterMs: 1_000 });
}
