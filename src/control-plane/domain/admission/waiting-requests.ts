import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";

/** What a waiting admit waits for. */
export type WaitTarget = "user_slot" | "account_slot";

/** One admit waiting for a slot, as operators see it. */
export interface WaitingRequest {
  requestId: string;
  instanceId: string;
  userId: string;
  keyId: string;
  groupId: string;
  model: string;
  target: WaitTarget;
  /** Epoch ms the wait began. */
  since: number;
  /** Epoch ms the wait gives up. */
  deadline: number;
}

const PREFIX = "waiting:";
/** An entry outlives its deadline by this much, so a replica that dies mid-wait leaves nothing behind for long. */
const GRACE_MS = 1_000;

/**
 * The admits waiting for a user or account slot, kept in the shared expiring map so every replica lists every
 * replica's waiters. Only the slow path writes here (a request that found no free slot), and writes are
 * best-effort: a failed write hides a waiter from the list, it never refuses the request.
 */
export class WaitingRequests {
  readonly #kv: ExpiringMap;
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(kv: ExpiringMap, clock: Clock, log: Logger) {
    this.#kv = kv;
    this.#clock = clock;
    this.#log = log;
  }

  /** Records (or updates) a waiter; resolves when written or given up on. */
  async enter(entry: WaitingRequest): Promise<void> {
    const ttlMs = Math.max(1, entry.deadline - this.#clock.now() + GRACE_MS);
    await this.#kv.set(keyOf(entry.requestId), JSON.stringify(entry), ttlMs).catch((err: unknown) => {
      this.#log.warn({ err, requestId: entry.requestId }, "waiting request not recorded");
    });
  }

  /** Forgets a waiter (granted, refused or withdrawn). */
  async leave(requestId: string): Promise<void> {
    await this.#kv.delete(keyOf(requestId)).catch(() => false);
  }

  /** Every waiter of every replica, longest waiting first. */
  async list(filter: { userId?: string; limit: number }): Promise<WaitingRequest[]> {
    const found: WaitingRequest[] = [];
    for await (const entry of this.#kv.scan(PREFIX)) {
      const waiter = parseWaiter(entry.value);
      if (!waiter || (filter.userId && waiter.userId !== filter.userId)) continue;
      found.push(waiter);
    }
    return found.sort((a, b) => a.since - b.since).slice(0, filter.limit);
  }
}

function keyOf(requestId: string): string {
  return `${PREFIX}${encodeURIComponent(requestId)}`;
}

function parseWaiter(value: string): WaitingRequest | null {
  try {
    const parsed = JSON.parse(value) as Partial<WaitingRequest>;
    return typeof parsed.requestId === "string" && typeof parsed.since === "number"
      ? (parsed as WaitingRequest)
      : null;
  } catch {
    return null;
  }
}
