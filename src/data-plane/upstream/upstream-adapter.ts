import type { Writable } from "node:stream";
import type { UpstreamAttemptFailure } from "./failure.js";

/** Which OpenAI API a request speaks; chosen by the client's route, kept for the upstream call. */
export type UpstreamApi = "responses" | "chat";

/**
 * Headers as Node (`IncomingMessage.headers`) and undici hand them over: lower-case names, a repeated header
 * possibly as an array. Taking this shape keeps transport types out of the upstream code.
 */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** Facts of one upstream call besides the credential, from the lease. */
export interface UpstreamCall {
  /** `UpstreamTarget.chatgpt_account_id` ("" for other kinds). */
  readonly chatgptAccountId: string;
  /** The client's API key id: keeps users who share one upstream account apart (session ids, prompt caches). */
  readonly keyId: string;
}

/** The request body as parsed by the pipeline, with the bytes it was parsed from. */
export interface RequestBodyInput {
  /** Absent where no lease is involved (tests, tools): treated as no account id and no key. */
  readonly call?: UpstreamCall;
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
  requestHeaders(clientHeaders: HeaderBag, credential: string, call?: UpstreamCall): Record<string, string>;
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

/** What the client asked for, for an adapter that must answer in that shape. */
export interface ClientWants {
  readonly api: UpstreamApi;
  readonly stream: boolean;
  /** The model name the client sent (responses carry it back). */
  readonly model: string;
}

/** A successful upstream answer seen as if the upstream had answered in the client's wire format. */
export interface ResponseTranslation {
  /** The status and headers to treat the answer by (e.g. `content-type: application/json` for a buffered body). */
  readonly head: { readonly status: number; readonly headers: HeaderBag };
  /** Wraps the sink the answer would go to: bytes written to the result reach `sink` translated. */
  wrap(sink: Writable): Writable;
}

/** Subscription usage windows an upstream reported with a response (shape of the proto's `SubscriptionUsage`). */
export interface ReportedUsage {
  readonly primary?: ReportedWindow;
  readonly secondary?: ReportedWindow;
}

/** One reported window. */
export interface ReportedWindow {
  readonly usedPercent: number;
  readonly windowMinutes: number;
  readonly resetAfterSeconds: number;
}

/**
 * Optional abilities of adapters whose upstream speaks another wire format than the client or reports account
 * state: the attempt calls them where it receives the upstream's answer, and only if present.
 */
export interface TranslatingUpstreamAdapter extends UpstreamAdapter {
  /** The translation of a successful (status < 400) answer for what the client wants. */
  translateResponse(
    head: { status: number; headers: HeaderBag },
    wants: ClientWants,
  ): ResponseTranslation | undefined;
  /** Usage windows in the upstream's response headers, if any. */
  reportedUsage(headers: HeaderBag): ReportedUsage | undefined;
}

/** Whether an adapter translates answers (see {@link TranslatingUpstreamAdapter}). */
export function isTranslating(adapter: UpstreamAdapter): adapter is TranslatingUpstreamAdapter {
  return "translateResponse" in adapter;
}
