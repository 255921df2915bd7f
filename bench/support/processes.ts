import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

/** A server started as its own process (so the load generator does not share its event loop). */
export interface ServerProcess {
  url: string;
  /** The server's process id (for RSS readings). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <script> ...args` and waits for its first stdout line, a JSON object with `url`
 * (the convention of every server script the benchmarks start).
 */
export async function startServerProcess(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [first] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(() => {
      throw new Error(`${script} exited before listening`);
    }),
  ])) as [string];
  const { url } = JSON.parse(first) as { url: string };
  let stopping = false;
  child.once("exit", (code, signal) => {
    if (!stopping)
      process.stderr.write(`bench: ${script} exited during the run (code ${code}, signal ${signal})\n`);
  });
  return {
    url,
    pid: child.pid ?? 0,
    async stop() {
      stopping = true;
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
