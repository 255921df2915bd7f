/**
 * A command line the CLI refuses before calling the control plane (unknown command or flag, missing or malformed
 * value). Printed as one line on stderr; the process exits with code 2.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
