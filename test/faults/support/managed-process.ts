import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./conditions.js";
import { newLogFile, runDir } from "./run-folder.js";

/** What to run, and how. */
export interface ProcessSpec {
  /** Short name for logs and messages, e.g. "cp-a", "dp-1", "postgres". */
  name: string;
  command: string;
  args: readonly string[];
  /** The whole environment of the process (nothing is inherited). */
  env: Readonly<Record<string, string>>;
  cwd?: string;
  /** Run as this user and group (root only), e.g. PostgreSQL, which refuses to run as root. */
  uid?: number;
  gid?: number;
}

/** How a process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keeps this much of the output in memory for messages and waits; the log file has everything. */
const OUTPUT_KEPT_CHARS = 1024 * 1024;

const live = new Set<ManagedProcess>();
process.once("exit", () => {
  for (const managed of live) managed.child?.kill("SIGKILL");
});

/**
 * A child process of the fault suite that can be killed and started again with the same spec (same port, same
 * data): `kill("SIGKILL")` is a crash, `stop()` a graceful stop. Everything it prints goes to its log file in the
 * run folder (scanned for secrets at the end of the run) and, trimmed, to `output()`. While it runs its pid is
 * recorded in the run folder, so the run's final sweep can kill it if the test process died without cleaning up;
 * a process that exits with this one is killed on exit too.
 */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  readonly logFile: string;
  child: ChildProcess | undefined;
  #output = "";
  #exited: Promise<ProcessExit> = Promise.resolve({ code: null, signal: null });
  #starts = 0;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
    this.logFile = newLogFile(spec.name);
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The pid of the running process. */
  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) throw new Error(`${this.spec.name} is not running`);
    return pid;
  }

  /** Resolves when the current run of the process ends. */
  get exited(): Promise<ProcessExit> {
    return this.#exited;
  }

  /** What the process printed (stdout and stderr interleaved), the last megabyte at most. */
  output(): string {
    return this.#output;
  }

  /** Starts the process (again); throws if it is running. */
  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    this.#starts += 1;
    if (this.#starts > 1) this.#output = "";
    const { command, args, env, cwd, uid, gid } = this.spec;
    const child = spawn(command, args, {
      env: { ...env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(cwd === undefined ? {} : { cwd }),
      ...(uid === undefined ? {} : { uid }),
      ...(gid === undefined ? {} : { gid }),
    });
    this.child = child;
    live.add(this);
    const pidFile = child.pid === undefined ? undefined : join(runDir(), "pids", String(child.pid));
    if (pidFile) writeFileSync(pidFile, `${command}\n`);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      appendFileSync(this.logFile, text);
      this.#output = (this.#output + text).slice(-OUTPUT_KEPT_CHARS);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.#exited = new Promise<ProcessExit>((resolve) => {
      child.once("error", (err) => {
        onData(Buffer.from(`spawn failed: ${err.message}\n`));
      });
      child.once("close", (code, signal) => {
        live.delete(this);
        if (pidFile) rmSync(pidFile, { force: true });
        resolve({ code, signal });
      });
    });
  }

  /** Resolves with the first match of `pattern` in the output of the current run; rejects if it exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return waitFor(
      () => {
        const match = pattern.exec(this.#output);
        if (match) return match;
        if (!this.running) throw new Error(`${this.spec.name} exited:\n${this.#output}`);
        return undefined;
      },
      { timeoutMs, intervalMs: 20, what: `${pattern} from ${this.spec.name}`, detail: () => this.#output },
    );
  }

  /** Sends `signal` (SIGKILL by default: a crash) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<ProcessExit> {
    if (!this.running) return this.#exited;
    this.child?.kill(signal);
    return this.#exited;
  }

  /** SIGTERM (or `signal`), then SIGKILL if it has not exited within `graceMs`. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<ProcessExit> {
    if (!this.running) return this.#exited;
    this.child?.kill(signal);
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
