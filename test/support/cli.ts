import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { redisNamespace } from "./redis-namespace.js";
import { REPO_ROOT } from "./repo-copy.js";
import { switchyardEntry } from "./stack.js";
import { createTestDatabase } from "./test-database.js";

/** How a run of the `switchyard` command ended. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the installed command (`node bin/switchyard.js …`, i.e. the built dist/) with only PATH and `env` in its
 * environment, as an operator's shell would. `stdin` is written to its standard input.
 */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  stdin = "",
): Promise<CliResult> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "bin/switchyard.js"), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(stdin);
  const [status] = (await once(child, "close")) as [number | null];
  return { status, stdout, stderr };
}

/** A control plane running as its own process, as `switchyard serve control-plane` runs in production. */
export interface ControlPlaneProcess {
  url: string;
  adminToken: string;
  dataPlaneToken: string;
  pid: number;
  /** Whether the process is still running. */
  running(): boolean;
  /** What it has written to stdout and stderr so far (its JSON log lines). */
  output(): string;
  /** SIGTERM, then the exit code (after dropping its database and its Redis keys). */
  stop(): Promise<number | null>;
}

/** Options for {@link startControlPlaneProcess}. */
export interface ControlPlaneProcessOptions {
  /** The loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** More settings, e.g. TLS files; with SWITCHYARD_TLS_CERT_FILE the URL is https://. */
  env?: Record<string, string>;
}

/**
 * Starts `switchyard serve control-plane` (see switchyardEntry) on a fresh PostgreSQL database and a Redis key
 * prefix of its own (deleted on stop), and waits until it accepts connections (it listens only after migrations).
 */
export async function startControlPlaneProcess(
  label: string,
  options: ControlPlaneProcessOptions = {},
): Promise<ControlPlaneProcess> {
  const host = options.host ?? "127.0.0.1";
  const db = await createTestDatabase(label);
  const redis = redisNamespace(label);
  const port = await freePort(host);
  const adminToken = `admin-${randomBytes(12).toString("hex")}`;
  const dataPlaneToken = `dp-${randomBytes(12).toString("hex")}`;
  let output = "";
  const child = spawn(process.execPath, [...switchyardEntry(), "serve", "control-plane"], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      SWITCHYARD_DATABASE_URL: db.url,
      SWITCHYARD_REDIS_URL: redis.url,
      SWITCHYARD_REDIS_PREFIX: redis.prefix,
      SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
      SWITCHYARD_ADMIN_TOKEN: adminToken,
      SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken,
      SWITCHYARD_CONTROL_PLANE_LISTEN: `${host}:${port}`,
      SWITCHYARD_LOG_LEVEL: "warn",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const cleanup = async () => {
    await db.drop();
    await redis.drop();
  };
  try {
    await untilListening(child, host, port, () => output);
  } catch (err) {
    child.kill("SIGKILL");
    await cleanup();
    throw err;
  }
  return {
    url: `${options.env?.SWITCHYARD_TLS_CERT_FILE ? "https" : "http"}://${host}:${port}`,
    adminToken,
    dataPlaneToken,
    pid: child.pid ?? 0,
    running: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    async stop() {
      const exited = child.exitCode === null ? once(child, "exit") : Promise.resolve([child.exitCode]);
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      await cleanup();
      return code;
    },
  };
}

/** A port the OS just handed out on `host` and released. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function untilListening(
  child: ChildProcess,
  host: string,
  port: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`control plane exited with ${child.exitCode}:\n${output()}`);
    if (await accepts(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`control plane did not listen within 30 s:\n${output()}`);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
