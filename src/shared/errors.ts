import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorCode, type Failure, FailureSchema } from "../gen/switchyard/v1/types_pb.js";

export { ErrorCode };

/** The OpenAI error `type`s Switchyard answers with (BEHAVIOUR.md, "Error shapes and statuses"). */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "api_error"
  | "upstream_error";

/** How one error code looks on each side: gRPC status for RPC callers, HTTP status + OpenAI type for API clients. */
interface ErrorSpec {
  readonly grpc: Code;
  readonly http: number;
  readonly type: OpenAIErrorType;
  /** OpenAI's `code` field; null where OpenAI sends none. */
  readonly openaiCode: string | null;
  /** The message used when the raiser gives none. */
  readonly message: string;
}

const spec = (
  grpc: Code,
  http: number,
  type: OpenAIErrorType,
  openaiCode: string | null,
  message: string,
): ErrorSpec => ({ grpc, http, type, openaiCode, message });

/**
 * The single table behind both mappings. Every code of the closed set has exactly one row; the TypeScript
 * `Record` makes a missing row a compile error.
 */
const SPECS: Record<ErrorCode, ErrorSpec> = {
  [ErrorCode.UNSPECIFIED]: spec(Code.Internal, 500, "api_error", null, "Internal server error"),
  [ErrorCode.INVALID_REQUEST]: spec(
    Code.InvalidArgument,
    400,
    "invalid_request_error",
    null,
    "Invalid request",
  ),
  [ErrorCode.REQUEST_TOO_LARGE]: spec(
    Code.InvalidArgument,
    413,
    "invalid_request_error",
    "request_too_large",
    "Request body too large",
  ),
  [ErrorCode.ROUTE_NOT_FOUND]: spec(Code.NotFound, 404, "invalid_request_error", "unknown_url", "Not found"),
  [ErrorCode.MODEL_NOT_FOUND]: spec(
    Code.NotFound,
    404,
    "invalid_request_error",
    "model_not_found",
    "Model is not supported by any configured account in this group",
  ),
  [ErrorCode.INVALID_API_KEY]: spec(
    Code.Unauthenticated,
    401,
    "authentication_error",
    "invalid_api_key",
    "Invalid API key",
  ),
  [ErrorCode.API_KEY_DISABLED]: spec(
    Code.Unauthenticated,
    401,
    "authentication_error",
    "invalid_api_key",
    "API key is disabled",
  ),
  [ErrorCode.API_KEY_EXPIRED]: spec(
    Code.PermissionDenied,
    403,
    "permission_error",
    "api_key_expired",
    "API key expired",
  ),
  [ErrorCode.USER_DISABLED]: spec(
    Code.PermissionDenied,
    403,
    "permission_error",
    "user_disabled",
    "User is disabled",
  ),
  [ErrorCode.AUTH_RATE_LIMITED]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "too_many_auth_failures",
    "Too many invalid API key attempts, please retry later",
  ),
  [ErrorCode.IP_NOT_ALLOWED]: spec(
    Code.PermissionDenied,
    403,
    "permission_error",
    "ip_not_allowed",
    "Your IP address is not allowed to use this API key",
  ),
  [ErrorCode.INSUFFICIENT_BALANCE]: spec(
    Code.FailedPrecondition,
    403,
    "insufficient_quota",
    "insufficient_balance",
    "Insufficient balance",
  ),
  [ErrorCode.KEY_QUOTA_EXCEEDED]: spec(
    Code.ResourceExhausted,
    429,
    "insufficient_quota",
    "insufficient_quota",
    "API key quota exceeded",
  ),
  [ErrorCode.SUBSCRIPTION_REQUIRED]: spec(
    Code.FailedPrecondition,
    403,
    "insufficient_quota",
    "subscription_required",
    "No active subscription for this group",
  ),
  [ErrorCode.SUBSCRIPTION_LIMIT_EXCEEDED]: spec(
    Code.ResourceExhausted,
    429,
    "insufficient_quota",
    "usage_limit_exceeded",
    "Subscription usage limit exceeded",
  ),
  [ErrorCode.KEY_SPEND_LIMIT_EXCEEDED]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "spend_limit_exceeded",
    "API key spend limit reached, please retry later",
  ),
  [ErrorCode.USER_QUEUE_FULL]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "rate_limit_exceeded",
    "Too many pending requests, please retry later",
  ),
  [ErrorCode.USER_WAIT_TIMEOUT]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "rate_limit_exceeded",
    "Concurrency limit exceeded for user, please retry later",
  ),
  [ErrorCode.ACCOUNT_WAIT_TIMEOUT]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "rate_limit_exceeded",
    "Concurrency limit exceeded for account, please retry later",
  ),
  [ErrorCode.NO_AVAILABLE_ACCOUNT]: spec(Code.Unavailable, 503, "api_error", null, "No available accounts"),
  [ErrorCode.ALL_ACCOUNTS_EXCLUDED]: spec(
    Code.Unavailable,
    503,
    "api_error",
    null,
    "Service temporarily unavailable",
  ),
  [ErrorCode.USER_RATE_LIMITED]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "rate_limit_exceeded",
    "Requests per minute limit exceeded, please retry later",
  ),
  [ErrorCode.UPSTREAM_AUTH_FAILED]: spec(
    Code.Unavailable,
    502,
    "upstream_error",
    null,
    "Upstream authentication failed, please contact administrator",
  ),
  [ErrorCode.UPSTREAM_FORBIDDEN]: spec(
    Code.Unavailable,
    502,
    "upstream_error",
    null,
    "Upstream access forbidden, please contact administrator",
  ),
  [ErrorCode.UPSTREAM_RATE_LIMITED]: spec(
    Code.ResourceExhausted,
    429,
    "rate_limit_error",
    "rate_limit_exceeded",
    "Upstream rate limit exceeded, please retry later",
  ),
  [ErrorCode.UPSTREAM_OVERLOADED]: spec(
    Code.Unavailable,
    503,
    "upstream_error",
    null,
    "Upstream service overloaded, please retry later",
  ),
  [ErrorCode.UPSTREAM_UNAVAILABLE]: spec(
    Code.Unavailable,
    502,
    "upstream_error",
    null,
    "Upstream service temporarily unavailable",
  ),
  [ErrorCode.UPSTREAM_FAILED]: spec(Code.Unavailable, 502, "upstream_error", null, "Upstream request failed"),
  [ErrorCode.STREAM_TIMEOUT]: spec(
    Code.DeadlineExceeded,
    504,
    "upstream_error",
    "stream_timeout",
    "Upstream stream timed out",
  ),
  [ErrorCode.UNAUTHENTICATED]: spec(
    Code.Unauthenticated,
    401,
    "authentication_error",
    null,
    "Missing or invalid token",
  ),
  [ErrorCode.PERMISSION_DENIED]: spec(
    Code.PermissionDenied,
    403,
    "permission_error",
    null,
    "This token may not call this service",
  ),
  [ErrorCode.NOT_FOUND]: spec(Code.NotFound, 404, "invalid_request_error", null, "Not found"),
  [ErrorCode.ALREADY_EXISTS]: spec(Code.AlreadyExists, 409, "invalid_request_error", null, "Already exists"),
  [ErrorCode.LEASE_NOT_FOUND]: spec(Code.NotFound, 500, "api_error", null, "Lease not found or expired"),
  [ErrorCode.INVALID_ARGUMENT]: spec(
    Code.InvalidArgument,
    400,
    "invalid_request_error",
    null,
    "Invalid argument",
  ),
  [ErrorCode.STORE_UNAVAILABLE]: spec(
    Code.Unavailable,
    503,
    "api_error",
    null,
    "Service temporarily unavailable",
  ),
  [ErrorCode.CONTROL_PLANE_UNAVAILABLE]: spec(
    Code.Unavailable,
    503,
    "api_error",
    null,
    "Service temporarily unavailable",
  ),
  [ErrorCode.SHUTTING_DOWN]: spec(Code.Unavailable, 503, "api_error", null, "Server is shutting down"),
  [ErrorCode.INTERNAL]: spec(Code.Internal, 500, "api_error", null, "Internal server error"),
};

/** Options carried by a {@link SwitchyardError} besides its code. */
export interface SwitchyardErrorOptions {
  /** Client-safe message; defaults to the code's standard message. */
  message?: string;
  /** Milliseconds after which a retry may succeed (Retry-After). */
  retryAfterMs?: number;
  /** The request field at fault (OpenAI's `param`). */
  param?: string;
  /** The underlying error, kept for logs only. */
  cause?: unknown;
}

/**
 * The one error class for expected failures. Domain code throws or returns it; transports translate it with
 * {@link toConnectError} and {@link toOpenAIError} and nowhere else.
 */
export class SwitchyardError extends Error {
  override readonly name = "SwitchyardError";
  readonly code: ErrorCode;
  readonly retryAfterMs: number;
  readonly param: string | null;

  constructor(code: ErrorCode, options: SwitchyardErrorOptions = {}) {
    super(
      options.message ?? SPECS[code].message,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.code = code;
    this.retryAfterMs = options.retryAfterMs ?? 0;
    this.param = options.param ?? null;
  }

  /** The error as a wire value (batched replies, unary error details). */
  toFailure(): Failure {
    return create(FailureSchema, {
      code: this.code,
      message: this.message,
      retryAfterMs: this.retryAfterMs,
      param: this.param ?? "",
    });
  }

  /** Rebuilds an error from its wire value. */
  static fromFailure(failure: Failure): SwitchyardError {
    const code = failure.code in SPECS ? failure.code : ErrorCode.INTERNAL;
    return new SwitchyardError(code, {
      message: failure.message || SPECS[code].message,
      retryAfterMs: failure.retryAfterMs,
      ...(failure.param ? { param: failure.param } : {}),
    });
  }
}

/** Anything thrown, as a SwitchyardError; unknown errors become INTERNAL with a generic message. */
export function asSwitchyardError(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  if (err instanceof ConnectError) {
    const [failure] = err.findDetails(FailureSchema);
    if (failure) return SwitchyardError.fromFailure(failure);
    const code = err.code === Code.Unavailable ? ErrorCode.CONTROL_PLANE_UNAVAILABLE : ErrorCode.INTERNAL;
    return new SwitchyardError(code, { cause: err });
  }
  return new SwitchyardError(ErrorCode.INTERNAL, { cause: err });
}

/** The gRPC/Connect form: the mapped status code with the Failure attached as a detail. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError && err.findDetails(FailureSchema).length === 0) return err;
  const e = asSwitchyardError(err);
  return new ConnectError(e.message, SPECS[e.code].grpc, undefined, [
    { desc: FailureSchema, value: e.toFailure() },
  ]);
}

/** The OpenAI error body, as clients see it before streaming and inside in-band stream errors. */
export interface OpenAIErrorBody {
  error: { type: OpenAIErrorType; message: string; code: string | null; param: string | null };
}

/** An HTTP answer for an API client: status, extra headers, OpenAI-shaped body. */
export interface OpenAIErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

/** The HTTP form for API clients (BEHAVIOUR.md statuses; Retry-After in whole seconds, rounded up). */
export function toOpenAIError(err: unknown): OpenAIErrorResponse {
  const e = asSwitchyardError(err);
  const s = SPECS[e.code];
  const headers: Record<string, string> = {};
  if (e.retryAfterMs > 0) headers["retry-after"] = String(Math.ceil(e.retryAfterMs / 1000));
  return {
    status: s.http,
    headers,
    body: { error: { type: s.type, message: e.message, code: s.openaiCode, param: e.param } },
  };
}
