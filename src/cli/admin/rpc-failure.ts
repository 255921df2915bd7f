import { Code, ConnectError } from "@connectrpc/connect";
import { describeServerError } from "../../shared/rpc-error-text.js";
import { NoReplicaAnswered } from "./admin-client.js";

/** Node's error codes for a control plane that cannot be reached or does not speak HTTP/2 on that address. */
const TRANSPORT_ERRORS =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ERR_HTTP2_)/;

/**
 * Node's codes for a server certificate it would not accept (not trusted, expired, naming another host); their
 * messages say which name or which check, so they are printed too. OpenSSL's own codes (`ERR_SSL_…`: the server
 * wants a client certificate, one side does not speak TLS) say it in the code; their messages are internals.
 */
const CERTIFICATE_ERRORS =
  /^(ERR_TLS_CERT_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;
const TLS_ERRORS = /^(ERR_SSL_|ERR_TLS_)/;

/**
 * The one line to print for a failed call: the server's code and message ("not found: user … not found"), or, when
 * the call never reached a server (refused, timed out, TLS handshake failed), that the control plane is unreachable.
 * Messages carry no token.
 */
export function describeRpcFailure(err: unknown, url: string): string {
  const reason = transportReason(err);
  if (reason !== null) return `cannot reach the control plane at ${url} (${reason})`;
  if (err instanceof NoReplicaAnswered) return `cannot reach the control plane at ${url} (${err.message})`;
  if (err instanceof ConnectError && err.code === Code.Canceled) {
    // The CLI cancels nothing itself: the server dropped the connection before answering, which is what a TLS
    // port does to a plaintext client, and an mTLS port to a certificate it does not trust.
    return `cannot reach the control plane at ${url} (connection closed before an answer: check http:// vs https:// and the client certificate)`;
  }
  if (err instanceof ConnectError) return describeServerError(err);
  return err instanceof Error ? err.message : String(err);
}

/** The Node error code (with the message, for certificates) behind a transport failure; null if a server answered. */
function transportReason(err: unknown): string | null {
  let cause: unknown = err;
  for (let depth = 0; depth < 8 && cause instanceof Error; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") {
      if (CERTIFICATE_ERRORS.test(code)) return `${code}: ${cause.message}`;
      if (TRANSPORT_ERRORS.test(code) || TLS_ERRORS.test(code)) return code;
    }
    cause = cause.cause;
  }
  return null;
}
