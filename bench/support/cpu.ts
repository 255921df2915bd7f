import { readFileSync } from "node:fs";
import { Redis } from "ioredis";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in ms (10 ms resolution). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ")"; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time the Redis server has used so far (INFO cpu, main thread and children), in ms. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return (read("used_cpu_user") + read("used_cpu_sys")) * 1000;
}

/** Reads the CPU used by a set of processes and Redis across a measured stretch. */
export class CpuMeter {
  readonly #pids: readonly number[];
  readonly #redis: Redis;

  constructor(pids: readonly number[], redisUrl = "redis://127.0.0.1:6379") {
    this.#pids = pids;
    this.#redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  /** Starts a stretch; the returned function ends it, answering ms of CPU per process (by pid) and for Redis. */
  async start(): Promise<() => Promise<{ processes: number[]; redis: number }>> {
    const before = this.#pids.map(processCpuMs);
    const redisBefore = await redisCpuMs(this.#redis);
    return async () => ({
      processes: this.#pids.map((pid, i) => processCpuMs(pid) - (before[i] ?? 0)),
      redis: (await redisCpuMs(this.#redis)) - redisBefore,
    });
  }

  close(): void {
    this.#redis.disconnect();
  }
}
