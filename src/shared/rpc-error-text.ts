import { Code, type ConnectError } from "@connectrpc/connect";

/**
 * The one line an operator sees for an error a control plane answered: "not found: user … not found". Shared by the
 * admin CLI and the admin web UI, so both say the same thing. No Node APIs: the web UI bundles this file.
 */
export function describeServerError(err: ConnectError): string {
  return `${codeWords(err.code)}: ${err.rawMessage}`;
}

/** "NotFound" → "not found", as gRPC documents its codes. */
export function codeWords(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
