import type { UpstreamAttemptFailure } from "./failure.js";

/** Which OpenAI API a request speaks; chosen by the client's route, kept for the upstream call. */
export type UpstreamApi = "responses" | "chat";

/**
 * Headers as Node (`IncomingMessage.headers`) and undici hand them over: lower-case names, a repeated header
 * possibly as an array. Taking this shape keeps transport types out of the upstream code.
 */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** The request body as parsed by the pipeline, with the bytes it was parsed from. */
export interface RequestBodyInput {
  readonly api: UpstreamApi;
  /** The parsed JSON object; never mutated, because failover rewrites it again for the next account. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The client's bytes; forwarded unchanged when no rewrite is needed. */
  readonly raw: Buffer;
  /** The model to send upstream (the account's mapping of the client's model). */
  readonly upstreamModel: string;
}

/** The body to send upstream and what the relay must undo on the way back. */
export interface UpstreamRequestBody {
  readonly bytes: Buffer;
  /**
   * True when the gateway asked a chat stream for usage on the client's behalf: the relay hides the extra
   * `choices: []` usage chunk (but still bills it).
   */
  readonly hideChatUsageChunk: boolean;
}

/**
 * Everything the data plane knows about one kind of upstream (STYLE.md §7): how to address it, which headers may
 * cross in each direction, how the body is rewritten and how its refusals are read. Pure functions only; the pool
 * does the I/O.
 */
export interface UpstreamAdapter {
  /** The `UpstreamTarget.kind` this adapter serves. */
  readonly kind: string;
  /** The absolute URL of `api` under the account's base URL. */
  endpointUrl(baseUrl: string, api: UpstreamApi): string;
  /** The headers to send upstream: the client's allowlisted ones plus the account's credential. */
  requestHeaders(clientHeaders: HeaderBag, credential: string): Record<string, string>;
  /** The request body for this account. */
  requestBody(input: RequestBodyInput): UpstreamRequestBody;
  /** The upstream response headers the client may see, renamed where needed. */
  responseHeaders(upstreamHeaders: HeaderBag): Record<string, string>;
  /** Reads a finished upstream error answer (status >= 400). `nowMs` dates an HTTP-date `Retry-After`. */
  classifyErrorResponse(
    status: number,
    headers: HeaderBag,
    body: Buffer | string,
    nowMs: number,
  ): UpstreamAttemptFailure;
}
