import type { Redis } from "ioredis";
import type { Logger } from "../../shared/logger.js";

/** Options of {@link watchLiveness}. */
export interface LivenessOptions {
  /** The connection's name in log lines. */
  name: string;
  /** How often a ready connection is pinged (ms). Default 500. */
  intervalMs?: number;
  /** How long a ping may go unanswered before the connection counts as dead (ms). Default 1000. */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * Pings a connection while it is ready. A ping unanswered within `timeoutMs` means Redis stopped answering without
 * closing the connection: a frozen process, or a host gone or cut off without a reset, which TCP can take minutes to
 * notice. The connection is then dropped at once and reconnected, so that — with no offline queue and no retries —
 * its commands fail at once until Redis answers again, instead of each waiting out its own timeout (or, with none,
 * until Redis is back); and the return shows as a "ready" event, which re-assertion listens for. Returns a function
 * that stops watching.
 */
export function watchLiveness(redis: Redis, options: LivenessOptions): () => void {
  const intervalMs = options.intervalMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 1000;
  let pinging = false;
  const drop = () => {
    if (redis.status !== "ready") return; // already closing: the connection reports itself
    options.log?.warn(
      { connection: options.name, timeoutMs },
      "redis stopped answering; the connection is dropped and reconnected",
    );
    // Not `disconnect(true)`: it ends the socket gracefully and waits up to `disconnectTimeout` (2 s) for a peer
    // that answers nothing. Destroyed, the socket closes now; ioredis rejects what was in flight and reconnects.
    redis.stream.destroy();
  };
  const timer = setInterval(() => {
    if (pinging || redis.status !== "ready") return;
    pinging = true;
    let answered = false;
    // The verdict waits one more turn: when this process was busy rather than Redis slow, the answer that came
    // meanwhile is read first (I/O runs before setImmediate), and a healthy connection is kept.
    const deadline = setTimeout(() => setImmediate(() => answered || drop()), timeoutMs);
    redis
      .ping()
      .then(
        () => {
          answered = true;
        },
        () => drop(), // the connection's own command timeout, or it is closing (then `drop` leaves it alone)
      )
      .finally(() => {
        clearTimeout(deadline);
        pinging = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
