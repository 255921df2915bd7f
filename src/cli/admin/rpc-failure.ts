import { Code, ConnectError } from "@connectrpc/connect";

/** Node's error codes for a control plane that cannot be reached or does not speak HTTP/2 on that address. */
const TRANSPORT_ERRORS =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ERR_HTTP2_)/;

/**
 * The one line to print for a failed call: the server's code and message ("not found: user … not found"), or, when
 * the call never reached a server, that the control plane is unreachable. Messages carry no token.
 */
export function describeRpcFailure(err: unknown, url: string): string {
  const reason = transportReason(err);
  if (reason !== null) return `cannot reach the control plane at ${url} (${reason})`;
  if (err instanceof ConnectError) return `${codeWords(err.code)}: ${err.rawMessage}`;
  return err instanceof Error ? err.message : String(err);
}

/** The Node error code behind a transport failure, or null for anything a server answered. */
function transportReason(err: unknown): string | null {
  let cause: unknown = err;
  for (let depth = 0; depth < 8 && cause instanceof Error; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && TRANSPORT_ERRORS.test(code)) return code;
    cause = cause.cause;
  }
  return null;
}

/** "NotFound" → "not found", as gRPC documents its codes. */
function codeWords(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
