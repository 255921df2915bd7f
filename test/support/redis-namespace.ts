import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/**
 * A key prefix of its own on the machine's Redis, for one test run's control plane (`SWITCHYARD_REDIS_PREFIX`).
 * Keys and pub/sub channels carry the prefix, so concurrent runs sharing the Redis never see each other; `drop`
 * deletes only this prefix's keys, never a whole database.
 */
export interface RedisNamespace {
  readonly url: string;
  readonly prefix: string;
  /** Deletes every key under the prefix. */
  drop(): Promise<void>;
}

/** A fresh namespace named after `label` (plus a random part, so reruns and parallel workers differ). */
export function redisNamespace(label: string, url = "redis://127.0.0.1:6379/0"): RedisNamespace {
  const prefix = `sytest:${label}:${randomBytes(4).toString("hex")}:`;
  return { url, prefix, drop: () => dropRedisPrefix(prefix, url) };
}

/** Deletes every key whose name starts with `prefix`. */
export async function dropRedisPrefix(prefix: string, url = "redis://127.0.0.1:6379/0"): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${escapeGlob(prefix)}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
