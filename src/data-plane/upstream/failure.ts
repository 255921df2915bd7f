import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import { isFailoverWorthy, isOverloadedError } from "../../shared/failover-classifier.js";
import { parseJsonOrUndefined } from "./json-shape.js";
import { rateLimitResetMs } from "./rate-limit-reset.js";
import type { HeaderBag } from "./upstream-adapter.js";

/** How an attempt failed before its first byte reached the client; mirrors the proto's `UpstreamFailureKind`. */
export type UpstreamAttemptFailureKind = "http_status" | "transport" | "headers_timeout" | "empty_stream";

/** One failed attempt as the data plane reports it in `Reroute` (proto `UpstreamFailure`) and decides on. */
export interface UpstreamAttemptFailure {
  readonly kind: UpstreamAttemptFailureKind;
  /** The upstream's HTTP status; 0 when it never answered. */
  readonly status: number;
  /** For a 429: the shortest reset that explains it, in ms; else 0 (the control plane applies its default). */
  readonly resetAfterMs: number;
  /** A short excerpt of the upstream error message for the account's cooldown reason; never request data. */
  readonly message: string;
  /** Whether another account may succeed where this one failed. */
  readonly failover: boolean;
}

/** The passthrough rules and the failover classifier read this much of an error body (BEHAVIOUR.md). */
export const ERROR_BODY_EXCERPT_BYTES = 8 * 1024;
/** Error bodies bigger than this are not parsed as JSON; only their excerpt is read. */
const MAX_PARSED_ERROR_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 200;
/** Upper bound on the Retry-After handed to clients once every account refused: never park a client for long. */
const MAX_CLIENT_RETRY_AFTER_MS = 60_000;

/** OpenAI-style secret keys; some upstreams echo the key they refused, and the excerpt reaches admins' screens. */
const SECRET_KEY = /\b(sk-[A-Za-z0-9]{0,4})[A-Za-z0-9_*-]{8,}/g;

function excerptOf(text: string): string {
  const flat = text.replace(/\s+/g, " ").replace(SECRET_KEY, "$1…").trim();
  return flat.length <= MAX_MESSAGE_CHARS ? flat : `${flat.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

/** The OpenAI error message (`{"error":{"message"}}`, `{"error":"…"}` or `{"message"}`), else the raw text. */
function errorMessage(parsed: unknown, text: string): string {
  if (typeof parsed === "object" && parsed !== null) {
    const { error, message } = parsed as { error?: unknown; message?: unknown };
    if (typeof error === "object" && error !== null) {
      const nested = (error as { message?: unknown }).message;
      if (typeof nested === "string" && nested !== "") return nested;
    }
    if (typeof error === "string" && error !== "") return error;
    if (typeof message === "string" && message !== "") return message;
  }
  return text;
}

/**
 * Reads a finished upstream error answer: whether it is worth another account (`isFailoverWorthy` on the first
 * 8 KiB), for a 429 when the account may be tried again, and a short message for the account's cooldown reason.
 */
export function classifyErrorResponse(
  status: number,
  headers: HeaderBag,
  body: Buffer | string,
  nowMs: number,
): UpstreamAttemptFailure {
  const size = typeof body === "string" ? body.length : body.byteLength;
  const parseable = size <= MAX_PARSED_ERROR_BYTES;
  const limit = parseable ? size : ERROR_BODY_EXCERPT_BYTES;
  const text = typeof body === "string" ? body.slice(0, limit) : body.toString("utf8", 0, limit);
  const excerpt = text.slice(0, ERROR_BODY_EXCERPT_BYTES);
  const parsed = parseable ? parseJsonOrUndefined(text) : undefined;
  return {
    kind: "http_status",
    status,
    resetAfterMs: status === 429 ? rateLimitResetMs(headers, parsed, nowMs) : 0,
    message: excerptOf(errorMessage(parsed, excerpt)) || `HTTP ${status}`,
    failover: isFailoverWorthy(status, excerpt),
  };
}

const HEADERS_TIMEOUT = "UND_ERR_HEADERS_TIMEOUT";
const BODY_TIMEOUT = "UND_ERR_BODY_TIMEOUT";

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** "code: message" of a thrown error; Node's AggregateError (dual-stack connect) has an empty message. */
function transportMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  const inner: unknown = error instanceof AggregateError ? error.errors[0] : undefined;
  const message = error.message || (inner instanceof Error ? inner.message : "");
  if (code === undefined || message.includes(code)) return message || error.name;
  return message ? `${code}: ${message}` : code;
}

/**
 * Reads an error thrown by the pool: no response headers within the first-byte timeout is `headers_timeout`;
 * DNS, connect, TLS, proxy, reset and body-idle failures are `transport`. Both always fail over. The caller checks
 * its own abort signal first: a request it aborted is not the upstream's failure.
 */
export function classifyTransportError(error: unknown): UpstreamAttemptFailure {
  const kind = errorCode(error) === HEADERS_TIMEOUT ? "headers_timeout" : "transport";
  return { kind, status: 0, resetAfterMs: 0, message: excerptOf(transportMessage(error)), failover: true };
}

/** The upstream answered 200 but its stream ended before any output: another account may do better. */
export function emptyStreamFailure(): UpstreamAttemptFailure {
  return {
    kind: "empty_stream",
    status: 0,
    resetAfterMs: 0,
    message: "upstream stream ended before any output",
    failover: true,
  };
}

/**
 * A stream whose first terminal event is an overloaded `response.failed` (or chat `error`) before any output: it
 * fails over like a 529. Null for any other in-band failure, which is the answer to relay.
 */
export function overloadedBeforeOutput(error: {
  code: string | null;
  message: string;
}): UpstreamAttemptFailure | null {
  if (!isOverloadedError(`${error.code ?? ""} ${error.message}`)) return null;
  return {
    kind: "http_status",
    status: 529,
    resetAfterMs: 0,
    message: excerptOf(error.message),
    failover: true,
  };
}

/** Whether a thrown error is the upstream going silent mid-body (→ in-band `stream_timeout` once streaming). */
export function isStreamIdleTimeout(error: unknown): boolean {
  return errorCode(error) === BODY_TIMEOUT;
}

/**
 * The client's answer once failover is exhausted and no passthrough rule matched (BEHAVIOUR.md "Failover"):
 * 401 and 403 hide the upstream's detail behind "contact administrator", 429 keeps a bounded Retry-After, 529
 * means overloaded, 500/502/503/504 unavailable, anything else (transport failures included: status 0) failed.
 */
export function exhaustedError(status: number, resetAfterMs = 0): SwitchyardError {
  switch (status) {
    case 401:
      return new SwitchyardError(ErrorCode.UPSTREAM_AUTH_FAILED);
    case 403:
      return new SwitchyardError(ErrorCode.UPSTREAM_FORBIDDEN);
    case 429:
      return new SwitchyardError(ErrorCode.UPSTREAM_RATE_LIMITED, {
        retryAfterMs: Math.min(Math.max(0, resetAfterMs), MAX_CLIENT_RETRY_AFTER_MS),
      });
    case 529:
      return new SwitchyardError(ErrorCode.UPSTREAM_OVERLOADED);
    case 500:
    case 502:
    case 503:
    case 504:
      return new SwitchyardError(ErrorCode.UPSTREAM_UNAVAILABLE);
    default:
      return new SwitchyardError(ErrorCode.UPSTREAM_FAILED);
  }
}
