import { type Logger, serializeError } from "./logger.js";

/**
 * Logs a dependency's outage once per change of state — "unavailable" at the first failure, "available again"
 * with the count of failures in between — instead of a line (and a stack) per failed call. An outage is an
 * expected condition, so its error is logged by type, message and code (with its causes), never with a stack.
 */
export class OutageLog {
  readonly #log: Logger;
  readonly #what: string;
  #failures = 0;
  #since = 0;

  /** `what` names the dependency in the messages, e.g. "database". */
  constructor(log: Logger, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** Whether the last call failed. */
  get down(): boolean {
    return this.#failures > 0;
  }

  /** A call failed; logs only the first failure of an outage. */
  failed(err: unknown): void {
    if (this.#failures++ === 0) {
      this.#since = Date.now();
      this.#log.warn({ error: withoutStacks(serializeError(err)) }, `${this.#what} unavailable`);
    }
  }

  /** A call succeeded; ends an outage if there was one. */
  ok(): void {
    if (this.#failures === 0) return;
    this.#log.info(
      { failures: this.#failures, downMs: Date.now() - this.#since },
      `${this.#what} available again`,
    );
    this.#failures = 0;
  }
}

/** A serialized error with the `stack` of it and of its causes left out. */
function withoutStacks(error: Record<string, unknown>): Record<string, unknown> {
  const { stack: _stack, cause, ...rest } = error;
  if (typeof cause === "object" && cause !== null)
    rest.cause = withoutStacks(cause as Record<string, unknown>);
  return rest;
}
