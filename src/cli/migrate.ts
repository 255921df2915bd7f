import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { MikroORM } from "@mikro-orm/postgresql";
import { pendingMigrations } from "../control-plane/store/db/migration-status.js";
import { migrate, openDatabase } from "../control-plane/store/db/orm.js";
import { systemClock } from "../shared/clock.js";
import type { Config } from "../shared/config.js";
import { describe, type MigrationWaitOutcome, waitForMigrations } from "./migration-wait.js";

const USAGE = "usage: switchyard migrate [--wait [--timeout-ms N]]";

/** How often `migrate --wait` asks the database again. */
const WAIT_INTERVAL_MS = 500;

/** How long `migrate --wait` tries one connection (a host that drops packets must not stall the deadline). */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `switchyard migrate`: applies pending migrations to SWITCHYARD_DATABASE_URL and lists what it applied.
 * `switchyard migrate --wait [--timeout-ms N]`: applies nothing; waits until every migration this build knows is
 * applied (exit 0), or gives up after N ms (exit 1, one line saying what is still missing). Exit 2: usage.
 */
export async function runMigrations(config: Config, args: readonly string[] = []): Promise<number> {
  const options = parseOptions(args);
  if (typeof options === "string") {
    process.stderr.write(`switchyard: ${options}\n${USAGE}\n`);
    return 2;
  }
  if (config.controlPlane.databaseUrl === "") {
    process.stderr.write("switchyard: SWITCHYARD_DATABASE_URL is required for migrate\n");
    return 2;
  }
  return options.wait
    ? waitUntilMigrated(config.controlPlane.databaseUrl, options.timeoutMs)
    : applyMigrations(config.controlPlane.databaseUrl);
}

async function applyMigrations(databaseUrl: string): Promise<number> {
  const orm = await openDatabase(databaseUrl);
  try {
    const applied = await migrate(orm);
    process.stdout.write(
      applied.length === 0 ? "database is up to date\n" : `applied: ${applied.join(", ")}\n`,
    );
    return 0;
  } finally {
    await orm.close(true);
  }
}

async function waitUntilMigrated(databaseUrl: string, timeoutMs: number): Promise<number> {
  // As a container's PID 1, Node ignores SIGTERM unless it handles it: without this, deleting a pod whose init
  // container is waiting would take the whole termination grace period.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
  const probe = new SchemaProbe(databaseUrl);
  try {
    const outcome = await waitForMigrations({
      pending: () => probe.pending(),
      clock: systemClock,
      pause: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
      report: (state) => process.stdout.write(`waiting: ${describe(state)}\n`),
      timeoutMs,
      intervalMs: WAIT_INTERVAL_MS,
      signal: stop.signal,
    });
    return reportOutcome(outcome, timeoutMs);
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
    await probe.close();
  }
}

/** Asks the database which migrations are pending, on one connection opened on first use and again after errors. */
class SchemaProbe {
  #orm: MikroORM | null = null;

  constructor(private readonly databaseUrl: string) {}

  async pending(): Promise<string[]> {
    try {
      // Read-only: never creates the database (the migration Job or the operator does).
      this.#orm ??= await openDatabase(this.databaseUrl, {
        poolMax: 1,
        ensureDatabase: false,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
      return await pendingMigrations(this.#orm);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const orm = this.#orm;
    this.#orm = null;
    await orm?.close(true).catch(() => undefined);
  }
}

function reportOutcome(outcome: MigrationWaitOutcome, timeoutMs: number): number {
  if (outcome.ok) {
    process.stdout.write("database is up to date\n");
    return 0;
  }
  const last = outcome.last === null ? "" : `: ${describe(outcome.last)}`;
  process.stderr.write(
    outcome.reason === "timeout"
      ? `switchyard: migrations not applied within ${timeoutMs} ms${last}\n`
      : `switchyard: stopped while waiting for migrations${last}\n`,
  );
  return 1;
}

/** The flags, or a one-line usage error. */
function parseOptions(args: readonly string[]): { wait: boolean; timeoutMs: number } | string {
  let values: { wait?: boolean; "timeout-ms"?: string };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { wait: { type: "boolean" }, "timeout-ms": { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // parseArgs' messages start with a capital ("Unknown option '--x'"); the CLI's lines do not.
    const message = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
    return message.charAt(0).toLowerCase() + message.slice(1);
  }
  const raw = values["timeout-ms"];
  if (raw !== undefined && !values.wait) return "--timeout-ms applies only with --wait";
  const timeoutMs = raw === undefined ? 0 : Number(raw);
  if (!/^\d+$/.test(raw ?? "0") || !Number.isSafeInteger(timeoutMs)) {
    return `--timeout-ms expects a whole number of milliseconds (0: no limit), got "${raw}"`;
  }
  return { wait: values.wait ?? false, timeoutMs };
}
