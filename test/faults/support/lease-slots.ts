import type { RedisInstance } from "./redis-instance.js";

/** The Redis key prefix of a fault stack's control planes (SWITCHYARD_REDIS_PREFIX's default). */
const PREFIX = "sy:";

/** A slot key as the control plane names it: `user:<id>` or `account:<id>`. */
export type SlotKey = `user:${string}` | `account:${string}`;

/**
 * How many holders the slot ZSETs of these keys still list, expired or not, read straight from Redis (the lease
 * store's `{key}:h` ZSET): what "no slot leaked" means below the AdminService view of leases.
 */
export async function slotHolders(redis: RedisInstance, keys: readonly SlotKey[]): Promise<number> {
  const client = redis.client();
  try {
    let total = 0;
    for (const key of keys) total += await client.zcard(`${PREFIX}{${key}}:h`);
    return total;
  } finally {
    client.disconnect();
  }
}
