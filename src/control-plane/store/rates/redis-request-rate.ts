import type { Redis } from "ioredis";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { RequestRate } from "./request-rate.js";

/**
 * One sorted set per key (member: request id, score: its time): prune what left the window, count, add when under
 * the limit. Returns 0 when counted, else how long until the oldest member leaves the window.
 */
const TAKE = `local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 0 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)`;

/** {@link RequestRate} on Redis sorted sets under `prefix`. Fails closed (STORE_UNAVAILABLE). */
export class RedisRequestRate implements RequestRate {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async take(key: string, id: string, limit: number, windowMs: number, now: number): Promise<number> {
    try {
      const wait = await this.#redis.eval(TAKE, 1, `${this.#prefix}rate:${key}`, now, windowMs, limit, id);
      return Number(wait);
    } catch (err) {
      throw new SwitchyardError(ErrorCode.STORE_UNAVAILABLE, { cause: err });
    }
  }
}
