import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { SwitchyardError } from "../../../shared/errors.js";

/**
 * Runs a write and turns a unique-constraint violation into the caller's error (ALREADY_EXISTS with the name).
 * The driver's own error is dropped, not attached as a cause: its message quotes the SQL parameters, which may
 * include sealed credentials or key hashes that must never reach a log.
 */
export async function onUniqueViolation<T>(
  write: () => Promise<T>,
  conflict: () => SwitchyardError,
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw conflict();
    throw err;
  }
}
