import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis, RedisOptions } from "ioredis";
import { newInstanceId } from "../../../shared/ids.js";
import type { Logger } from "../../../shared/logger.js";
import { watchLiveness } from "../redis-liveness.js";
import { ExpiryListeners } from "./expiry-listeners.js";
import {
  type AcquireRequest,
  type AcquireResult,
  assertAcquireRequest,
  assertPairRequest,
  assertSlotRef,
  assertTtl,
  type ExpiredListener,
  type LeaseStore,
  type PairRequest,
  type PairResult,
  type SlotLoad,
  storeClosed,
  type WaitOptions,
} from "./lease-store.js";
import { PendingWait } from "./pending-wait.js";
import { LeaseBatch } from "./redis-lease-batch.js";
import {
  createLeaseClient,
  createWakeSubscriber,
  guarded,
  type LeaseClient,
  parseScriptReply,
  type ScriptReply,
  type SlotKeys,
  storeUnavailable,
} from "./redis-lease-client.js";
import { ScriptStatus } from "./redis-lease-scripts.js";

/** Options for {@link RedisLeaseStore.open}. */
export interface RedisLeaseStoreOptions {
  /** Where Redis is (host, port, password, db…); the store overrides the settings that make it fail closed. */
  connection: RedisOptions;
  /** Prepended to every key and channel, e.g. "sy:lease:". */
  keyPrefix: string;
  /**
   * This replica's id, naming its wake-up channel and its connections (`switchyard-lease:<id>`, `…:sub`);
   * defaults to the host name plus a random suffix. Must be unique among the replicas sharing the Redis.
   */
  instanceId?: string;
  /** The safety-net poll of each waiting acquire, for wake-ups lost with a dropped subscriber (ms). Default 1000. */
  pollIntervalMs?: number;
  /** A Redis command without an answer after this long fails with STORE_UNAVAILABLE (ms). Default 1000. */
  commandTimeoutMs?: number;
  /** How long {@link RedisLeaseStore.open} tries to reach Redis (ms). Default 2000. */
  connectTimeoutMs?: number;
  log?: Logger;
}

/** An acquire of this replica waiting in a Redis queue. */
interface RedisWaiter {
  /** The waiter's id in the queue and in its wake-up message. */
  readonly token: string;
  readonly keys: SlotKeys;
  readonly key: string;
  readonly holder: string;
  readonly limit: number;
  readonly wait: PendingWait;
  poll: NodeJS.Timeout | undefined;
}

/**
 * The production {@link LeaseStore}: state in Redis, each operation one atomic Lua script (redis-lease-scripts.ts)
 * timed by the Redis server's clock — the hot path's pair admits and releases batched per event-loop turn into one
 * script run (redis-lease-batch.ts) — so any number of replicas sharing one Redis respect limits and FIFO together.
 * Each instance stands for one control-plane replica: it has its own subscriber connection and channel, on which
 * the script that grants a slot to one of its waiters publishes that waiter's token. Each waiter also polls
 * slowly (and at its key's next holder expiry when it could be served by it), so lost wake-ups only cost time.
 */
export class RedisLeaseStore implements LeaseStore {
  readonly #client: LeaseClient;
  /** Pair admits and releases, one script run per event-loop turn. */
  readonly #batch: LeaseBatch;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #pollIntervalMs: number;
  readonly #listeners: ExpiryListeners;
  readonly #waiters = new Map<string, RedisWaiter>();
  readonly #reconnectListeners = new Set<() => void>();
  /** Set once the command connection was lost, until it is ready again. */
  #lost = false;
  /** Stops the connections' liveness pings. */
  #unwatch: Array<() => void> = [];
  readonly #log: Logger | undefined;
  #closed = false;

  private constructor(options: RedisLeaseStoreOptions) {
    const instanceId = options.instanceId ?? newInstanceId(hostname());
    const tuning = {
      commandTimeoutMs: options.commandTimeoutMs ?? 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      connectionName: `switchyard-lease:${instanceId}`,
    };
    this.#client = createLeaseClient(options.connection, tuning);
    this.#subscriber = createWakeSubscriber(options.connection, tuning);
    this.#prefix = options.keyPrefix;
    this.#channel = `${options.keyPrefix}wake:${instanceId}`;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#log = options.log;
    this.#listeners = new ExpiryListeners(options.log);
    this.#batch = new LeaseBatch({
      run: (bases, args) => this.#client.leaseBatch(bases.length, ...bases, ...args),
      baseOf: (key) => this.#base(key),
      reportExpired: (key, holders) => this.#listeners.report(key, holders),
      unavailable: storeUnavailable,
    });
  }

  /** Connects both connections and subscribes to this replica's channel; rejects with STORE_UNAVAILABLE. */
  static async open(options: RedisLeaseStoreOptions): Promise<RedisLeaseStore> {
    const store = new RedisLeaseStore(options);
    try {
      await guarded(() => store.#start());
    } catch (err) {
      for (const unwatch of store.#unwatch) unwatch();
      store.#client.disconnect();
      store.#subscriber.disconnect();
      throw err;
    }
    return store;
  }

  async #start(): Promise<void> {
    for (const connection of [this.#client, this.#subscriber]) {
      connection.on("error", (err: unknown) =>
        this.#log?.warn({ err }, "lease store redis connection error"),
      );
      // A dropped connection may have lost wake-ups (or Redis is gone): every waiter checks in at once, and
      // fails fast if Redis cannot answer.
      connection.on("close", () => this.#pollAllNow());
    }
    this.#client.on("close", () => {
      this.#lost = true;
    });
    this.#client.on("ready", () => {
      if (!this.#lost) return;
      this.#lost = false;
      const uncertain = this.#batch.uncertain;
      this.#log?.info({ uncertain }, "lease store connection is back; holders re-assert");
      // First on the connection: slots that operations refused during the outage may have taken after all.
      void this.#batch.releaseUncertain();
      for (const listener of this.#reconnectListeners) listener();
    });
    this.#subscriber.on("message", (_channel: string, token: string) => {
      this.#waiters.get(token)?.wait.grant();
    });
    // A Redis that stops answering without closing the connections (frozen, cut off) is treated as gone at once.
    this.#unwatch = [
      watchLiveness(this.#client, { name: "lease commands", log: this.#log }),
      watchLiveness(this.#subscriber, { name: "lease wake-ups", log: this.#log }),
    ];
    await Promise.all([this.#client.connect(), this.#subscriber.connect()]);
    await this.#subscriber.subscribe(this.#channel);
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertOpen();
    assertAcquireRequest(request);
    const { key, holder, limit, ttlMs, wait } = request;
    if (wait) return this.#acquireOrWait(request, wait);
    const keys = this.#keys(key);
    const reply = await this.#run(key, () =>
      this.#client.leaseAcquire(...keys, holder, limit, ttlMs, -1, 0, "", ""),
    );
    return reply.a === ScriptStatus.GRANTED
      ? { granted: true, waitedMs: 0 }
      : { granted: false, reason: "busy" };
  }

  async #acquireOrWait(request: AcquireRequest, wait: WaitOptions): Promise<AcquireResult> {
    if (wait.signal?.aborted) return { granted: false, reason: "cancelled" };
    const { key, holder, limit, ttlMs } = request;
    const token = randomBytes(12).toString("base64url");
    const waiter: RedisWaiter = {
      token,
      keys: this.#keys(key),
      key,
      holder,
      limit,
      poll: undefined,
      wait: new PendingWait({
        timeoutMs: wait.timeoutMs,
        signal: wait.signal,
        leave: () => this.#cancel(waiter),
        onDone: () => {
          clearTimeout(waiter.poll);
          this.#waiters.delete(token);
        },
      }),
    };
    // Registered before the script runs: a grant's wake-up may overtake the script's own answer.
    this.#waiters.set(token, waiter);
    let reply: ScriptReply;
    try {
      const args = [holder, limit, ttlMs, wait.maxWaiting, wait.timeoutMs, this.#channel, token];
      reply = await this.#run(key, () => this.#client.leaseAcquire(...waiter.keys, ...args));
    } catch (err) {
      waiter.wait.fail(err);
      return waiter.wait.promise;
    }
    if (reply.a === ScriptStatus.QUEUED) {
      waiter.wait.arm();
      this.#schedulePoll(waiter, reply);
      return waiter.wait.promise;
    }
    this.#waiters.delete(token);
    if (reply.a === ScriptStatus.GRANTED) return { granted: true, waitedMs: 0 };
    return { granted: false, reason: reply.a === ScriptStatus.BUSY ? "busy" : "queue_full" };
  }

  async acquirePair(request: PairRequest): Promise<PairResult> {
    this.#assertOpen();
    assertPairRequest(request);
    return this.#batch.acquirePair(request);
  }

  async renew(key: string, holder: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    assertTtl(ttlMs);
    const reply = await this.#run(key, () => this.#client.leaseRenew(...this.#keys(key), holder, ttlMs));
    return reply.a === 1;
  }

  async reassert(key: string, holder: string, ttlMs: number): Promise<"renewed" | "recreated"> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    assertTtl(ttlMs);
    const reply = parseScriptReply(
      await guarded(() => this.#client.leaseReassert(...this.#keys(key), holder, ttlMs)),
    );
    // The holder itself is back, not abandoned: only the others pruned on the way are reported.
    this.#listeners.report(
      key,
      reply.expired.filter((h) => h !== holder),
    );
    return reply.a === 1 ? "recreated" : "renewed";
  }

  async release(key: string, holder: string): Promise<boolean> {
    this.#assertOpen();
    assertSlotRef(key, holder);
    const reply = await this.#run(key, () => this.#client.leaseRelease(...this.#keys(key), holder));
    return reply.a === 1;
  }

  async releaseAll(keys: readonly string[], holder: string): Promise<boolean[]> {
    this.#assertOpen();
    for (const key of keys) assertSlotRef(key, holder);
    if (keys.length === 0) return [];
    return this.#batch.releaseAll(keys, holder);
  }

  async loads(keys: readonly string[]): Promise<Map<string, SlotLoad>> {
    this.#assertOpen();
    // One script per key (atomic per key, pipelined together); counts of different keys are not one snapshot.
    const unique = [...new Set(keys)];
    const replies = await Promise.all(
      unique.map((key) => this.#run(key, () => this.#client.leaseLoad(...this.#keys(key)))),
    );
    return new Map(unique.map((key, i) => [key, { inUse: replies[i]?.a ?? 0, waiting: replies[i]?.b ?? 0 }]));
  }

  onExpired(listener: ExpiredListener): () => void {
    return this.#listeners.add(listener);
  }

  onReconnected(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const waiters = [...this.#waiters.values()];
    await Promise.all(
      waiters.map(({ wait }) => wait.leave("cancelled", storeClosed()).then(() => wait.settled)),
    );
    for (const unwatch of this.#unwatch) unwatch();
    this.#subscriber.disconnect();
    this.#client.disconnect();
  }

  /** Runs one script for `key`, reporting the expired holders it pruned. */
  async #run(key: string, call: () => Promise<unknown>): Promise<ScriptReply> {
    const reply = parseScriptReply(await guarded(call));
    this.#listeners.report(key, reply.expired);
    return reply;
  }

  /** Leaves the queue on timeout or abort; the script gives back a slot that a racing grant handed over. */
  async #cancel(waiter: RedisWaiter): Promise<void> {
    await this.#run(waiter.key, () => this.#client.leaseCancel(...waiter.keys, waiter.token, waiter.holder));
  }

  /**
   * Polls slowly, or at the key's next holder expiry when this waiter is close enough to the head to be served
   * by it (expiries hand slots on only when someone touches the key).
   */
  #schedulePoll(waiter: RedisWaiter, reply: ScriptReply): void {
    if (!waiter.wait.waiting) return;
    const untilExpiry = reply.b;
    const servedByExpiry = untilExpiry >= 0 && reply.c < waiter.limit;
    const delay = servedByExpiry ? Math.min(this.#pollIntervalMs, untilExpiry + 1) : this.#pollIntervalMs;
    clearTimeout(waiter.poll);
    waiter.poll = setTimeout(() => void this.#poll(waiter), Math.max(0, delay));
  }

  async #poll(waiter: RedisWaiter): Promise<void> {
    if (!waiter.wait.waiting) return;
    let reply: ScriptReply;
    try {
      reply = await this.#run(waiter.key, () =>
        this.#client.leasePoll(...waiter.keys, waiter.token, waiter.holder),
      );
    } catch (err) {
      waiter.wait.fail(storeUnavailable(err));
      return;
    }
    if (reply.a === ScriptStatus.QUEUED) this.#schedulePoll(waiter, reply);
    else if (reply.a === ScriptStatus.GRANTED) waiter.wait.grant();
    else waiter.wait.refuse("timeout");
  }

  #pollAllNow(): void {
    for (const waiter of this.#waiters.values()) {
      // A waiter without a poll is still being queued: its acquire script answers (or fails) for it.
      if (waiter.poll === undefined) continue;
      clearTimeout(waiter.poll);
      void this.#poll(waiter);
    }
  }

  /** The common start of a slot key's Redis keys; one hash tag keeps them in one cluster slot. */
  #base(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  /** The slot key's five Redis keys. */
  #keys(key: string): SlotKeys {
    const base = this.#base(key);
    return [`${base}:h`, `${base}:q`, `${base}:d`, `${base}:w`, `${base}:l`];
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosed();
  }
}
