import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

/** A process started from an install (not from the checkout), with what it printed for failure messages. */
export interface InstalledProcess {
  child: ChildProcess;
  /** Its stdout and stderr so far, interleaved. */
  output(): string;
  /** The exit code once it has exited (null when a signal ended it). */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code; at once when it has already exited. */
  stop(): Promise<number | null>;
}

/**
 * Runs `argv` (argv[0] is the program) in `cwd` with exactly `env` — nothing inherited, so nothing from the
 * developer's shell or the checkout (NODE_PATH, a tsx loader) can make up for what the install lacks.
 */
export function startInstalled(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
): InstalledProcess {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error("no program to start");
  const child = spawn(program, args, { cwd, env: { ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: string) => {
    output += chunk;
  };
  child.stdout?.setEncoding("utf8").on("data", collect);
  child.stderr?.setEncoding("utf8").on("data", collect);
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/**
 * Polls `probe` until it returns a value other than undefined, and returns it. Fails with `what` and the process's
 * output when the process exits first or `timeoutMs` passes. Polling a condition, not sleeping for a guessed time.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  process: InstalledProcess,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null) {
      throw new Error(`${what}: exited with ${process.child.exitCode} first:\n${process.output()}`);
    }
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms:\n${process.output()}`);
}
