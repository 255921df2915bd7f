import { once } from "node:events";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Time between two checks (default 100 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
  /** Extra context for the error message (e.g. a process's output), computed only on failure. */
  detail?: () => string;
}

/**
 * Polls `check` until it returns a value other than undefined/false and resolves with it; rejects with a message
 * naming `what` after `timeoutMs`. A check that throws counts as "not yet" (services coming up refuse
 * connections), and its last error is quoted on timeout.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) break;
    await sleep(options.intervalMs ?? 100);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  const detail = options.detail ? `\n${options.detail()}` : "";
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}${cause}${detail}`,
  );
}

/** Resolves once `deadline` (a `Date.now()` instant) has passed; for checks defined at a point in time. */
export async function until(deadline: number): Promise<void> {
  const left = deadline - Date.now();
  if (left > 0) await sleep(left);
}

/** A TCP port on 127.0.0.1 that the OS just handed out and released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}
