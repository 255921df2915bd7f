import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";

/** Codes of a database that cannot be reached right now (socket errors and PostgreSQL's SQLSTATEs for it). */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** Driver and pool messages of a lost or refused connection (they carry no code). */
const UNAVAILABLE_MESSAGE =
  /connection terminated|timeout acquiring a connection|connection error|not queryable|terminating connection|database system is (starting up|shutting down)/i;

/**
 * Whether an error means "the database is away" (stopped, restarting, unreachable) rather than "this statement is
 * wrong": the first is answered 503 and retried, the second is a bug or a bad value. Looks through `cause` chains
 * (MikroORM and the pool wrap the driver's error).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const e = current as { code?: unknown; sqlState?: unknown; message?: unknown; cause?: unknown };
    for (const code of [e.code, e.sqlState]) {
      if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)))
        return true;
    }
    if (typeof e.message === "string" && UNAVAILABLE_MESSAGE.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}

/** The database being away, as the hot path reports it: STORE_UNAVAILABLE (503), never INTERNAL (500). */
export function databaseUnavailable(cause: unknown): SwitchyardError {
  return new SwitchyardError(ErrorCode.STORE_UNAVAILABLE, { message: "Database unavailable", cause });
}

/** Rethrows an unavailable database as {@link databaseUnavailable}; anything else as it is. */
export function translateDatabaseError(err: unknown): never {
  throw isDatabaseUnavailable(err) ? databaseUnavailable(err) : err;
}
