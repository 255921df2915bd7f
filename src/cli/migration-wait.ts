import type { Clock } from "../shared/clock.js";

/** What {@link waitForMigrations} needs: a check of the schema, time, and where to say what it is waiting for. */
export interface MigrationWaitDeps {
  /**
   * The known migrations not yet applied (empty: current); rejects while the database cannot be asked. It must
   * settle in bounded time (the CLI's check has a connect timeout), since the deadline is checked between calls.
   */
  pending: () => Promise<string[]>;
  clock: Clock;
  /** Resolves after `ms`, or early when `signal` aborts. */
  pause: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Called when what is being waited for changes (first check, new pending list, new database error). */
  report: (state: MigrationWaitState) => void;
  /** Give up after this long; 0 waits without limit. */
  timeoutMs: number;
  intervalMs: number;
  /** Aborted when the process is asked to stop (SIGTERM): the wait ends at once. */
  signal: AbortSignal;
}

/** The last thing a wait saw: the pending migrations, or why the database could not be asked. */
export type MigrationWaitState = { pending: string[] } | { unreachable: string };

/** How a wait ended. */
export type MigrationWaitOutcome =
  | { ok: true }
  | { ok: false; reason: "timeout" | "interrupted"; last: MigrationWaitState | null };

/**
 * Polls until every migration this build knows is applied, without applying any: the control plane's init
 * container runs it so replicas of a new version start only after the migration Job has brought the schema up to
 * date (the ordering is enforced, not left to the order manifests are applied in). A database that cannot be
 * reached yet (still starting) counts as "not yet", not as a failure.
 */
export async function waitForMigrations(deps: MigrationWaitDeps): Promise<MigrationWaitOutcome> {
  const deadline = deps.timeoutMs === 0 ? Number.POSITIVE_INFINITY : deps.clock.now() + deps.timeoutMs;
  let last: MigrationWaitState | null = null;
  for (;;) {
    if (deps.signal.aborted) return { ok: false, reason: "interrupted", last };
    const state = await deps.pending().then(
      (pending): MigrationWaitState => ({ pending }),
      (err: unknown): MigrationWaitState => ({ unreachable: oneLine(err) }),
    );
    if ("pending" in state && state.pending.length === 0) return { ok: true };
    if (last === null || describe(last) !== describe(state)) deps.report(state);
    last = state;
    const left = deadline - deps.clock.now();
    if (left <= 0) return { ok: false, reason: "timeout", last };
    await deps.pause(Math.min(deps.intervalMs, left), deps.signal);
  }
}

/** One line for a state, as the CLI prints it (and compares it to the last one it printed). */
export function describe(state: MigrationWaitState): string {
  return "pending" in state
    ? `pending migrations: ${state.pending.join(", ")}`
    : `database not reachable: ${state.unreachable}`;
}

/** An error's first line; a connection refused on every address (an AggregateError) has no message of its own. */
function oneLine(err: unknown): string {
  if (err instanceof AggregateError && err.message === "")
    return oneLine(err.errors[0] ?? "connection failed");
  const message =
    err instanceof Error ? err.message || String((err as { code?: unknown }).code ?? err.name) : String(err);
  return message.split("\n")[0] ?? message;
}
