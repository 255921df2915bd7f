import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "./conditions.js";
import { ManagedProcess } from "./managed-process.js";

const run = promisify(execFile);

/** A private PostgreSQL server: its own data folder and port, stopped and started at will, same data each time. */
export interface PostgresInstance {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/switchyard` (trust auth; the database exists and starts empty). */
  readonly url: string;
  readonly dataDir: string;
  readonly process: ManagedProcess;
  /** Starts the server again on the same port and data; resolves once it answers queries. */
  start(): Promise<void>;
  /** `fast`: a fast shutdown (SIGINT, as `pg_ctl stop -m fast`); `kill`: kill -9 of the postmaster (a crash). */
  stop(mode?: "fast" | "kill"): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections stay open and nothing answers, until `thaw()`. */
  freeze(): void;
  /** SIGCONT to every process of the cluster. */
  thaw(): void;
  /** Stops the server and deletes its data folder; safe to call twice. */
  destroy(): Promise<void>;
  /** Runs one SQL statement with psql as `postgres`; resolves with its unaligned output. */
  psql(database: string, sql: string): Promise<string>;
}

/** The server binaries: SWITCHYARD_FAULTS_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
function binDir(): string {
  const configured = process.env.SWITCHYARD_FAULTS_PG_BIN;
  if (configured) return configured;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined)
    throw new Error("no PostgreSQL under /usr/lib/postgresql; set SWITCHYARD_FAULTS_PG_BIN");
  return join(root, newest, "bin");
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) throw new Error("running as root needs a `postgres` user");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Pids of processes whose working directory is `dir`: PostgreSQL's postmaster and backends sit in their data dir. */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const SERVER_SETTINGS = [
  "listen_addresses=127.0.0.1",
  "unix_socket_directories=",
  // Durability against a host crash is not under test, only process crashes are: the disk can stay out of the
  // way (no fsync), but a commit must still reach the OS before it is acknowledged (synchronous_commit stays on),
  // or a kill -9 of the postmaster loses the last transactions the control plane was told were committed.
  "fsync=off",
  "full_page_writes=off",
  "max_connections=200",
  "shared_buffers=64MB",
];

type ServerUser = { uid: number; gid: number } | undefined;

const ENV = { PATH: process.env.PATH ?? "", LANG: "C.UTF-8" };

/** initdb into `<root>/data` (trust auth, no fsync). */
async function initCluster(bin: string, user: ServerUser, root: string): Promise<string> {
  if (user) chownSync(root, user.uid, user.gid);
  const dataDir = join(root, "data");
  const args = ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"];
  await run(join(bin, "initdb"), args, { ...(user ?? {}), env: ENV });
  return dataDir;
}

/** One server process over a data folder; see {@link PostgresInstance}. */
class LocalPostgres implements PostgresInstance {
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  readonly process: ManagedProcess;
  readonly #bin: string;
  readonly #removeFolder: () => void;
  #destroyed = false;

  constructor(options: {
    name: string;
    bin: string;
    user: ServerUser;
    port: number;
    root: string;
    dataDir: string;
  }) {
    const { name, bin, user, port, root, dataDir } = options;
    this.port = port;
    this.url = `postgres://postgres@127.0.0.1:${port}/switchyard`;
    this.dataDir = dataDir;
    this.#bin = bin;
    this.#removeFolder = () => rmSync(root, { recursive: true, force: true });
    process.once("exit", this.#removeFolder);
    this.process = new ManagedProcess({
      name,
      command: join(bin, "postgres"),
      args: ["-D", dataDir, "-p", String(port), ...SERVER_SETTINGS.flatMap((s) => ["-c", s])],
      env: ENV,
      ...(user ?? {}),
    });
  }

  async start(): Promise<void> {
    const name = this.process.spec.name;
    // After a kill -9 the old backends notice the postmaster's death and leave; until then the data is in use.
    await waitFor(() => processesIn(this.dataDir).length === 0, { what: `old ${name} backends to exit` });
    this.process.start();
    await waitFor(() => this.psql("postgres", "select 1").then(() => true), {
      what: `${name} to accept connections`,
      detail: () => this.process.output(),
    });
  }

  async stop(mode: "fast" | "kill" = "fast"): Promise<void> {
    await (mode === "kill" ? this.process.kill("SIGKILL") : this.process.stop("SIGINT"));
  }

  freeze(): void {
    for (const pid of processesIn(this.dataDir)) process.kill(pid, "SIGSTOP");
  }

  thaw(): void {
    for (const pid of processesIn(this.dataDir)) process.kill(pid, "SIGCONT");
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.thaw();
    this.#destroyed = true;
    await this.process.stop("SIGQUIT", 5_000);
    for (const pid of processesIn(this.dataDir)) process.kill(pid, "SIGKILL");
    this.#removeFolder();
    process.off("exit", this.#removeFolder);
  }

  /** Runs one SQL statement with psql; resolves with its unaligned output. */
  async psql(database: string, sql: string): Promise<string> {
    const args = ["-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", "-d", database, "-Atc", sql];
    const { stdout } = await run(join(this.#bin, "psql"), args, { env: ENV, timeout: 5_000 });
    return stdout;
  }
}

/**
 * Creates a PostgreSQL cluster in a fresh temporary folder (initdb, trust auth), starts it on a free port of
 * 127.0.0.1 and creates the `switchyard` database. Call `destroy()` when done (afterAll).
 */
export async function startPostgres(name = "postgres"): Promise<PostgresInstance> {
  const bin = binDir();
  const user = serverUser();
  const root = mkdtempSync(join(tmpdir(), "switchyard-faults-pg-"));
  let instance: LocalPostgres | undefined;
  try {
    const dataDir = await initCluster(bin, user, root);
    instance = new LocalPostgres({ name, bin, user, port: await freePort(), root, dataDir });
    await instance.start();
    await instance.psql("postgres", "create database switchyard");
    return instance;
  } catch (err) {
    await instance?.destroy();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
