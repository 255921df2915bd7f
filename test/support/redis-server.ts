import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A throwaway redis-server child process on 127.0.0.1, for tests that need to take Redis away. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** Stops the server (SIGKILL by default: it vanishes as a crashed host would) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing, until `thaw()`. */
  freeze(): void;
  /** SIGCONT: the server resumes where it stopped. */
  thaw(): void;
}

const HOST = "127.0.0.1";

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** Whether a Redis at `port` answers PING with PONG. */
async function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}

async function startOnce(port: number): Promise<RedisServer | null> {
  const args = ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no"];
  const child = spawn("redis-server", args, { stdio: "ignore" });
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await pings(port)) {
      return {
        host: HOST,
        port,
        stop: async (signal = "SIGKILL") => {
          process.off("exit", killOnExit);
          child.kill("SIGCONT"); // a frozen server would not act on the signal
          await stopChild(child, signal);
        },
        freeze: () => child.kill("SIGSTOP"),
        thaw: () => child.kill("SIGCONT"),
      };
    }
    await sleep(20);
  }
  process.off("exit", killOnExit);
  await stopChild(child, "SIGKILL");
  return null;
}

/** Starts a dedicated redis-server (no persistence) on a free port and waits until it answers PING. */
export async function startRedisServer(): Promise<RedisServer> {
  // Another process may take the port between choosing and binding it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = await startOnce(await freePort());
    if (server) return server;
  }
  throw new Error("redis-server did not start");
}

/** Starts a dedicated redis-server again on `port` (empty, as a restart without persistence leaves it). */
export async function restartRedisServer(port: number): Promise<RedisServer> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = await startOnce(port);
    if (server) return server;
    await sleep(100);
  }
  throw new Error(`redis-server did not start again on ${port}`);
}
