import type { Redis } from "ioredis";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { ExpiringMap } from "./expiring-map.js";

/** Compare-and-delete in one atomic step. */
const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** {@link ExpiringMap} on Redis strings with PX expiries, every key under `prefix`. Fails closed. */
export class RedisExpiringMap implements ExpiringMap {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  get(key: string): Promise<string | null> {
    return guard(this.#redis.get(this.#prefix + key));
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return guard(this.#redis.mget(keys.map((k) => this.#prefix + k)));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await guard(this.#redis.set(this.#prefix + key, value, "PX", ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await guard(this.#redis.set(this.#prefix + key, value, "PX", ttlMs, "NX"))) === "OK";
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    return (await guard(this.#redis.pexpire(this.#prefix + key, ttlMs))) === 1;
  }

  async delete(key: string): Promise<boolean> {
    return (await guard(this.#redis.del(this.#prefix + key))) === 1;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    const deleted = await guard(this.#redis.eval(DELETE_IF_EQUALS, 1, this.#prefix + key, expected));
    return deleted === 1;
  }

  async *scan(prefix: string): AsyncIterable<{ key: string; value: string; expiresAt: number }> {
    const pattern = `${escapeGlob(this.#prefix + prefix)}*`;
    let cursor = "0";
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
