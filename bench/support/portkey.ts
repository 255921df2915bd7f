import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The peer gateway the budget compares with (DESIGN.md §8): Portkey's OSS gateway, pinned. */
const PORTKEY = "@portkey-ai/gateway@1.15.2";
/** Where the benchmark installs it (git-ignored): not a dependency of Switchyard. */
const DIR = join(".bench-cache", "portkey-1.15.2");
/** Portkey's gateway listens on this port, whatever it is told. */
const PORT = 8787;

/** A running Portkey gateway, and the headers that make it forward to an OpenAI-compatible upstream. */
export interface Portkey {
  url: string;
  /** The server's process id (for CPU readings). */
  pid: number;
  headers(upstream: string): Record<string, string>;
  stop(): Promise<void>;
}

/** Installs Portkey OSS once (npm, no install scripts) and starts it headless on port 8787. */
export async function startPortkey(): Promise<Portkey> {
  const entry = join(DIR, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
  if (!existsSync(entry)) {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(join(DIR, "package.json"), '{ "name": "bench-portkey", "private": true }\n');
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "-E", PORTKEY], {
      cwd: DIR,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  const child = spawn(process.execPath, [entry, "--headless"], { stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${PORT}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error("Portkey exited before listening (is port 8787 taken?)");
    const up = await fetch(url).then(
      () => true,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid ?? 0,
    headers: (upstream) => ({
      authorization: "Bearer sk-bench-portkey",
      "x-portkey-provider": "openai",
      "x-portkey-custom-host": `${upstream}/v1`,
    }),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
