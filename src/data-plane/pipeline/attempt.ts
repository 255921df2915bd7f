import type { Writable } from "node:stream";
import type { Lease, SnapshotPassthroughRule } from "../../gen/switchyard/v1/gateway_pb.js";
import { Outcome } from "../../gen/switchyard/v1/types_pb.js";
import { ErrorCode, type OpenAIErrorBody, SwitchyardError, toOpenAIError } from "../../shared/errors.js";
import type { StageSpan } from "../observability/request-trace.js";
import { adapterFor } from "../upstream/adapters.js";
import {
  classifyTransportError,
  emptyStreamFailure,
  isStreamIdleTimeout,
  overloadedBeforeOutput,
  type UpstreamAttemptFailure,
} from "../upstream/failure.js";
import { SseTap, type SseTerminal } from "../upstream/sse-tap.js";
import {
  type HeaderBag,
  isTranslating,
  type ReportedUsage,
  type UpstreamAdapter,
} from "../upstream/upstream-adapter.js";
import { UpstreamAbort, type UpstreamPool } from "../upstream/upstream-pool.js";
import { readJsonResponse, type TokenUsage } from "../upstream/usage.js";
import { inBandError } from "./client-response.js";
import { applyPassthroughRule, matchPassthroughRule } from "./passthrough-match.js";
import type { RequestContext } from "./request-context.js";
import { BodyCollector, isFailure, StreamRelay } from "./stream-relay.js";

const ERROR_BODY_LIMIT = 64 * 1024;
/** No drain runs unless the client leaves (shared: no closure per attempt). */
const NO_DRAIN = (): void => {};

type Head = { status: number; headers: HeaderBag };
const JSON_BODY_LIMIT = 64 * 1024 * 1024;

/** What the client sent, parsed once and reused by every attempt. */
export interface ClientRequest {
  json: Readonly<Record<string, unknown>>;
  raw: Buffer;
  model: string;
  stream: boolean;
}

/** Settings an attempt needs. */
export interface AttemptDeps {
  pool: UpstreamPool;
  keepaliveMs: number;
  /** How long to keep reading an upstream for usage after the client left. */
  clientGoneDrainMs: number;
  /** Upstream silence that ends that drain early (the account slot is freed then). */
  clientGoneDrainIdleMs: number;
  /** Upstream stream silence before the client gets an in-band `stream_timeout`. */
  streamIdleTimeoutMs: number;
  /** The error-passthrough rules in force (for an upstream stream that fails before any output). */
  passthroughRules: readonly SnapshotPassthroughRule[];
}

/** The upstream refused before anything reached the client: the caller may fail over. */
export interface Refusal {
  kind: "refused";
  failure: UpstreamAttemptFailure;
  status: number;
  headers: HeaderBag;
  body: Buffer;
}

/** The attempt answered the client (fully, or cut with an in-band error). */
export interface Relayed {
  kind: "relayed";
  status: number;
  outcome: Outcome;
  usage: TokenUsage | undefined;
  responseId: string;
  upstreamRequestId: string;
  firstTokenMs: number;
  /** Subscription usage windows the upstream reported (ChatGPT accounts), passed on with the release. */
  subscriptionUsage?: ReportedUsage;
}

/** Sends the request to the lease's account and relays the answer, unless it is refused before the first byte. */
export async function runAttempt(
  ctx: RequestContext,
  deps: AttemptDeps,
  lease: Lease,
  request: ClientRequest,
): Promise<Refusal | Relayed> {
  const target = lease.target;
  const adapter = target ? adapterFor(target.kind) : undefined;
  if (!target || !adapter)
    throw new SwitchyardError(ErrorCode.INTERNAL, { message: "lease without a usable target" });
  const call = { chatgptAccountId: target.chatgptAccountId, keyId: lease.principal?.keyId ?? "" };
  const body = adapter.requestBody({
    api: ctx.api,
    body: request.json,
    raw: request.raw,
    upstreamModel: target.upstreamModel,
    call,
  });
  const abort = new UpstreamAbort();
  const got: { head: Head | null; sink: StreamRelay | BodyCollector | null } = { head: null, sink: null };
  let stopDrain = NO_DRAIN;
  const drain = () => {
    stopDrain = drainBounded(abort, () => got.sink?.lastWriteAt ?? 0, deps);
  };
  ctx.clientGone.addEventListener("abort", drain, { once: true });
  const span = ctx.trace.attempt(lease);
  let relaySpan = null as StageSpan | null;
  const headers = adapter.requestHeaders(ctx.req.headers, target.credential, call);
  if (span.traceparent !== "") headers.traceparent = span.traceparent;
  const sentAt = performance.now();
  if (ctx.firstSentAt === 0) ctx.firstSentAt = sentAt;
  try {
    await deps.pool.stream(
      {
        url: adapter.endpointUrl(target.baseUrl, ctx.api),
        headers,
        body: body.bytes,
        proxyUrl: target.proxyUrl,
        signal: abort,
      },
      (upstreamHead): Writable => {
        // An upstream that answers in another wire format (ChatGPT accounts) is read as the client's format.
        const translation = translateFor(adapter, upstreamHead, ctx, request);
        const h = translation?.head ?? upstreamHead;
        got.head = h;
        ctx.timings.upstream = performance.now() - sentAt;
        span.end(h.status);
        if (h.status < 400) relaySpan = ctx.trace.stage("relay");
        got.sink =
          h.status < 400 && request.stream
            ? relayFor(
                ctx,
                deps,
                adapter,
                h.headers,
                request,
                target.upstreamModel,
                body.hideChatUsageChunk,
                abort,
              )
            : new BodyCollector(h.status < 400 ? JSON_BODY_LIMIT : ERROR_BODY_LIMIT);
        return translation ? translation.wrap(got.sink) : got.sink;
      },
    );
  } catch (err) {
    if (got.head === null) span.fail(err);
    relaySpan?.fail(err);
    return afterTransportError(ctx, err, got.head, got.sink, request);
  } finally {
    ctx.clientGone.removeEventListener("abort", drain);
    stopDrain();
  }
  relaySpan?.end();
  const { head: h, sink } = got;
  if (!h || !sink) return refused(classifyTransportError(new Error("no response")), null, Buffer.alloc(0));
  if (sink instanceof StreamRelay)
    return withReportedUsage(adapter, h, finishStream(ctx, deps, sink, h, request));
  if (h.status >= 400) {
    // Some upstreams echo the key they refused: it must reach neither the client nor the account's status reason.
    const body = withoutSecret(sink.body, target.credential);
    return refused(adapter.classifyErrorResponse(h.status, h.headers, body, Date.now()), h, body);
  }
  return withReportedUsage(adapter, h, finishJson(ctx, adapter, h, sink.body, request, target.upstreamModel));
}

function translateFor(adapter: UpstreamAdapter, head: Head, ctx: RequestContext, request: ClientRequest) {
  if (head.status >= 400 || !isTranslating(adapter)) return undefined;
  return adapter.translateResponse(head, { api: ctx.api, stream: request.stream, model: request.model });
}

/** A relayed answer with the account state its upstream reported (ChatGPT usage windows), for the release. */
function withReportedUsage<T extends Refusal | Relayed>(adapter: UpstreamAdapter, head: Head, result: T): T {
  if (result.kind !== "relayed" || !isTranslating(adapter)) return result;
  const usage = adapter.reportedUsage(head.headers);
  return usage ? { ...result, subscriptionUsage: usage } : result;
}

/**
 * After the client left, the upstream is read on for its usage until it ends, falls silent for the idle bound, or
 * the total bound passes — then it is cut, so a stalled upstream does not hold the account slot. Returns the stop.
 */
function drainBounded(
  abort: UpstreamAbort,
  lastWriteAt: () => number,
  bounds: { clientGoneDrainMs: number; clientGoneDrainIdleMs: number },
): () => void {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const now = performance.now();
    // Silence counts from the upstream's last bytes: a client that left during a stall is noticed late (a paused
    // socket shows its close on the next write), and the stall before that counts too.
    const silentFor = now - (lastWriteAt() || started);
    const left = Math.min(
      bounds.clientGoneDrainMs - (now - started),
      bounds.clientGoneDrainIdleMs - silentFor,
    );
    if (left <= 0) abort.abort();
    else timer = setTimeout(check, left).unref();
  };
  check();
  return () => clearTimeout(timer);
}

function relayFor(
  ctx: RequestContext,
  deps: AttemptDeps,
  adapter: UpstreamAdapter,
  upstreamHeaders: HeaderBag,
  request: ClientRequest,
  upstreamModel: string,
  hideChatUsageChunk: boolean,
  abort: UpstreamAbort,
): StreamRelay {
  const tap = new SseTap({
    api: ctx.api,
    hideChatUsageChunk,
    ...(upstreamModel !== request.model ? { rewriteModel: { from: upstreamModel, to: request.model } } : {}),
  });
  return new StreamRelay({
    res: ctx.res,
    tap,
    keepaliveMs: deps.keepaliveMs,
    clientGone: () => ctx.clientGone.aborted,
    onCommit: () => {
      ctx.outputStarted = true;
    },
    idleTimeoutMs: deps.streamIdleTimeoutMs,
    onIdle: () => abort.abort(),
    headers: () => ({
      ...adapter.responseHeaders(upstreamHeaders),
      "x-request-id": ctx.requestId,
      "server-timing": ctx.serverTiming(),
    }),
  });
}

/** The upstream stream ended: complete, cut (in-band error), or empty (a refusal, nothing was sent). */
function finishStream(
  ctx: RequestContext,
  deps: AttemptDeps,
  relay: StreamRelay,
  head: Head,
  request: ClientRequest,
): Refusal | Relayed {
  const tap = relay.tap;
  if (!relay.committed) {
    const terminal = tap.terminal;
    if (!terminal) return refused(emptyStreamFailure(), head, Buffer.alloc(0));
    if (isFailure(terminal) && !tap.outputProduced) {
      const early = failedBeforeOutput(ctx, deps, relay, head, terminal, request);
      if (early) return early;
    }
    relay.commitHeld();
  }
  let outcome = Outcome.COMPLETED;
  if (ctx.clientGone.aborted) outcome = Outcome.CLIENT_ABORTED;
  else if (!tap.complete) {
    outcome = tap.terminal?.kind === "failed" ? Outcome.FAILED_UPSTREAM : Outcome.TRUNCATED;
    if (outcome === Outcome.TRUNCATED)
      endInBand(ctx, ErrorCode.UPSTREAM_FAILED, "Upstream stream ended unexpectedly", request);
  } else if (tap.terminal?.kind === "incomplete") outcome = Outcome.INCOMPLETE;
  if (!ctx.res.writableEnded) ctx.res.end();
  return relayed(ctx, head, outcome, tap.usage, tap.responseId, tap.firstTokenAt);
}

/**
 * The upstream stream failed before any output (BEHAVIOUR.md "Error passthrough"): an overloaded upstream fails over
 * like a 529; otherwise a matching passthrough rule words the in-band failure. Null: relay the upstream's own.
 */
function failedBeforeOutput(
  ctx: RequestContext,
  deps: AttemptDeps,
  relay: StreamRelay,
  head: Head,
  terminal: SseTerminal,
  request: ClientRequest,
): Refusal | Relayed | null {
  const error = terminal.error ?? { code: null, message: "" };
  const body = Buffer.from(JSON.stringify({ error }));
  const overloaded = overloadedBeforeOutput(error);
  if (overloaded) return refused(overloaded, { status: overloaded.status, headers: head.headers }, body);
  const rule = matchPassthroughRule(deps.passthroughRules, {
    status: head.status,
    body: body.toString("utf8"),
    platform: "openai",
  });
  if (!rule) return null;
  const answer = applyPassthroughRule(rule, {
    status: 502,
    message: error.message || "Upstream request failed",
  });
  const failure: OpenAIErrorBody = {
    error: { type: "upstream_error", message: answer.message, code: null, param: null },
  };
  relay.commitReplacing(inBandError(ctx.api, failure, request.model));
  if (!ctx.res.writableEnded) ctx.res.end();
  return relayed(ctx, head, Outcome.FAILED_UPSTREAM, relay.tap.usage, relay.tap.responseId, undefined);
}

function finishJson(
  ctx: RequestContext,
  adapter: UpstreamAdapter,
  head: Head,
  raw: Buffer,
  request: ClientRequest,
  upstreamModel: string,
): Relayed {
  const answer = readJsonResponse(raw, upstreamModel !== request.model ? request.model : undefined);
  const outcome = ctx.clientGone.aborted ? Outcome.CLIENT_ABORTED : Outcome.COMPLETED;
  if (!ctx.res.headersSent && !ctx.clientGone.aborted) {
    ctx.res.writeHead(head.status, {
      ...adapter.responseHeaders(head.headers),
      "content-length": answer.bytes.length,
      "x-request-id": ctx.requestId,
      "server-timing": ctx.serverTiming(),
    });
    ctx.res.end(answer.bytes);
  } else if (!ctx.res.writableEnded) {
    // A wait ping committed an event stream: the JSON body still goes out, as the last bytes of it.
    ctx.res.end(answer.bytes);
  }
  // A JSON answer reaches the client whole: its first token arrives with the body, now.
  return relayed(ctx, head, outcome, answer.usage, answer.responseId, Date.now());
}

/** A transport error: before anything reached the client it is a refusal; after, the stream is cut in-band. */
function afterTransportError(
  ctx: RequestContext,
  err: unknown,
  head: Head | null,
  sink: StreamRelay | BodyCollector | null,
  request: ClientRequest,
): Refusal | Relayed {
  if (sink instanceof StreamRelay && sink.committed && head) {
    const tap = sink.tap;
    if (ctx.clientGone.aborted) {
      return relayed(ctx, head, Outcome.CLIENT_ABORTED, tap.usage, tap.responseId, tap.firstTokenAt);
    }
    if (sink.idledOut || isStreamIdleTimeout(err)) {
      endInBand(ctx, ErrorCode.STREAM_TIMEOUT, "Upstream stream timed out", request);
    } else endInBand(ctx, ErrorCode.UPSTREAM_FAILED, "Upstream stream ended unexpectedly", request);
    return relayed(ctx, head, Outcome.TRUNCATED, tap.usage, tap.responseId, tap.firstTokenAt);
  }
  return refused(classifyTransportError(err), head, Buffer.alloc(0));
}

function endInBand(ctx: RequestContext, code: ErrorCode, message: string, request: ClientRequest): void {
  if (ctx.res.writableEnded || ctx.clientGone.aborted) return;
  const err = new SwitchyardError(code, { message });
  ctx.res.end(inBandError(ctx.api, toOpenAIError(err).body, request.model));
}

/** `body` with every occurrence of `secret` replaced (a credential shorter than 8 characters is left alone). */
function withoutSecret(body: Buffer, secret: string): Buffer {
  if (secret.length < 8 || body.indexOf(secret) < 0) return body;
  return Buffer.from(body.toString("utf8").replaceAll(secret, "[redacted]"));
}

function refused(failure: UpstreamAttemptFailure, head: Head | null, body: Buffer): Refusal {
  return { kind: "refused", failure, status: head?.status ?? 0, headers: head?.headers ?? {}, body };
}

function relayed(
  ctx: RequestContext,
  head: Head,
  outcome: Outcome,
  usage: TokenUsage | undefined,
  responseId: string | undefined,
  firstTokenAt: number | undefined,
): Relayed {
  const upstreamRequestId = head.headers["x-request-id"];
  return {
    kind: "relayed",
    status: head.status,
    outcome,
    usage,
    responseId: responseId ?? "",
    upstreamRequestId: typeof upstreamRequestId === "string" ? upstreamRequestId : "",
    firstTokenMs: firstTokenAt === undefined ? 0 : Math.max(0, Math.round(firstTokenAt - ctx.startedAtMs)),
  };
}
