import type { Redis } from "ioredis";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { ExpiringMap } from "./expiring-map.js";

/** Set unless another key exists, in one atomic step. KEYS: the key, the blocker. ARGV: value, ttlMs. */
const SET_UNLESS = `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Compare-and-delete in one atomic step. */
const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Sets and deletes in one step, in order. KEYS: the keys; ARGV per key: `S`, value, ttlMs (a set) or `D` (a delete).
 * Answers per key: 1 for a set, 1/0 for a delete (whether the key existed).
 */
const WRITE_BATCH = `local answer, at = {}, 1
for i = 1, #KEYS do
  if ARGV[at] == 'S' then
    redis.call('SET', KEYS[i], ARGV[at + 1], 'PX', ARGV[at + 2])
    answer[i] = 1
    at = at + 3
  else
    answer[i] = redis.call('DEL', KEYS[i])
    at = at + 1
  end
end
return answer`;

type WriteBatchCommand = (count: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>;

interface PendingWrite {
  readonly key: string;
  /** Absent for a delete. */
  readonly value?: string;
  readonly ttlMs?: number;
  readonly resolve: (answer: number) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * {@link ExpiringMap} on Redis strings with PX expiries, every key under `prefix`. Fails closed. The sets and deletes
 * of one event-loop turn go out as one script run at the end of the turn (the hot path writes a lease record per
 * admit and a tombstone per release); any other command sends the writes asked for before it first, so every
 * command still reaches Redis in the order it was asked for.
 */
export class RedisExpiringMap implements ExpiringMap {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #writeBatch: WriteBatchCommand;
  #writes: PendingWrite[] = [];
  #scheduled = false;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    if (!("kvWriteBatch" in redis)) redis.defineCommand("kvWriteBatch", { lua: WRITE_BATCH });
    const command = (redis as unknown as { kvWriteBatch: WriteBatchCommand }).kvWriteBatch;
    this.#writeBatch = command.bind(redis);
  }

  get(key: string): Promise<string | null> {
    this.#flush();
    return guard(this.#redis.get(this.#prefix + key));
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    this.#flush();
    return guard(this.#redis.mget(keys.map((k) => this.#prefix + k)));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#write(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.#flush();
    return (await guard(this.#redis.set(this.#prefix + key, value, "PX", ttlMs, "NX"))) === "OK";
  }

  async setUnless(key: string, value: string, ttlMs: number, blocker: string): Promise<boolean> {
    this.#flush();
    const set = await guard(
      this.#redis.eval(SET_UNLESS, 2, this.#prefix + key, this.#prefix + blocker, value, ttlMs),
    );
    return set === 1;
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    this.#flush();
    return (await guard(this.#redis.pexpire(this.#prefix + key, ttlMs))) === 1;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#write(key)) === 1;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    this.#flush();
    const deleted = await guard(this.#redis.eval(DELETE_IF_EQUALS, 1, this.#prefix + key, expected));
    return deleted === 1;
  }

  async *scan(prefix: string): AsyncIterable<{ key: string; value: string; expiresAt: number }> {
    const pattern = `${escapeGlob(this.#prefix + prefix)}*`;
    let cursor = "0";
    this.#flush();
    do {
      const [next, keys] = await guard(this.#redis.scan(cursor, "MATCH", pattern, "COUNT", 500));
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = this.#redis.pipeline();
      for (const k of keys) pipeline.get(k).pttl(k);
      const replies = (await guard(pipeline.exec())) ?? [];
      const now = Date.now();
      for (const [i, k] of keys.entries()) {
        const value = replies[i * 2]?.[1];
        const ttl = replies[i * 2 + 1]?.[1];
        if (typeof value === "string" && typeof ttl === "number" && ttl > 0) {
          yield { key: k.slice(this.#prefix.length), value, expiresAt: now + ttl };
        }
      }
    } while (cursor !== "0");
  }

  /** Queues a set (with `value`) or a delete for the end of the turn. */
  #write(key: string, value?: string, ttlMs?: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#writes.push({ key: this.#prefix + key, value, ttlMs, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    });
  }

  /** Sends the queued writes as one script run. */
  #flush(): void {
    this.#scheduled = false;
    const writes = this.#writes;
    if (writes.length === 0) return;
    this.#writes = [];
    const args: Array<string | number> = [];
    for (const w of writes) {
      if (w.value === undefined) args.push("D");
      else args.push("S", w.value, w.ttlMs ?? 1);
    }
    guard(this.#writeBatch(writes.length, ...writes.map((w) => w.key), ...args)).then(
      (answer) => {
        const answers = Array.isArray(answer) ? answer : [];
        for (const [i, w] of writes.entries()) w.resolve(Number(answers[i] ?? 0));
      },
      (err: unknown) => {
        for (const w of writes) w.reject(err);
      },
    );
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Any Redis failure is STORE_UNAVAILABLE: shared state we cannot read is never guessed. */
async function guard<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (cause) {
    throw new SwitchyardError(ErrorCode.STORE_UNAVAILABLE, { cause });
  }
}
