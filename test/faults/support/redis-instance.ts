import { Redis } from "ioredis";
import { freePort, waitFor } from "./conditions.js";
import { ManagedProcess } from "./managed-process.js";

/**
 * A private redis-server without persistence, like test/support/redis-server.ts's, but one that can come back on
 * the same port (empty, as a real restart without persistence does) and whose output joins the run's logs.
 */
export interface RedisInstance {
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0`. */
  readonly url: string;
  readonly process: ManagedProcess;
  /** Starts the server again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
  /** `kill`: kill -9 (a crash); `shutdown`: SHUTDOWN NOSAVE (a clean stop that keeps nothing). */
  stop(mode?: "kill" | "shutdown"): Promise<void>;
  /** SIGSTOP: the server keeps its connections and data and answers nothing, until `thaw()`. */
  freeze(): void;
  /** SIGCONT: the server resumes where it stopped, and works off what its clients sent meanwhile. */
  thaw(): void;
  /** A client of this server (the caller disconnects it). */
  client(): Redis;
  /** Stops the server; safe to call twice. */
  destroy(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } finally {
    redis.disconnect();
  }
}

/** Starts a redis-server on a free port of 127.0.0.1 and waits until it answers PING. */
export async function startRedis(name = "redis"): Promise<RedisInstance> {
  const port = await freePort();
  const server = new ManagedProcess({
    name,
    command: "redis-server",
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    env: { PATH: process.env.PATH ?? "" },
  });
  const client = () => new Redis({ host: "127.0.0.1", port, lazyConnect: false, maxRetriesPerRequest: 1 });
  const instance: RedisInstance = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    process: server,
    client,
    async start() {
      server.start();
      await waitFor(() => answersPing(port), {
        what: `${name} to answer PING`,
        detail: () => server.output(),
      });
    },
    async stop(mode = "kill") {
      if (mode === "kill" || !server.running) {
        await server.kill("SIGKILL");
        return;
      }
      const redis = client();
      redis.on("error", () => undefined);
      // The server closes the connection instead of answering.
      await redis.call("SHUTDOWN", "NOSAVE").catch(() => undefined);
      redis.disconnect();
      await server.exited;
    },
    freeze() {
      server.child?.kill("SIGSTOP");
    },
    thaw() {
      server.child?.kill("SIGCONT");
    },
    async destroy() {
      await server.kill("SIGKILL");
    },
  };
  await instance.start();
  return instance;
}
