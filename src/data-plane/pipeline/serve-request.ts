import { asSwitchyardError, ErrorCode } from "../../shared/errors.js";
import type { AuthFailureLimiter } from "./auth-failure-limiter.js";
import type { ClientAddressSource } from "./client-address.js";
import { sendFailure, writePing } from "./client-response.js";
import { extractApiKey } from "./credentials.js";
import { type FailoverDeps, runWithFailover } from "./failover.js";
import { LeaseSession } from "./lease-session.js";
import { readBody } from "./read-body.js";
import type { RequestContext } from "./request-context.js";
import { validateChatCompletionsRequest, validateResponsesRequest } from "./validate.js";

/** Everything one proxied request needs. */
export interface ServeDeps extends FailoverDeps {
  limiter: AuthFailureLimiter;
  bodyLimitBytes: number;
  /** Where the client's address comes from (the socket, or a trusted proxy's header). */
  clientAddress: ClientAddressSource;
  /** Longest silence while the request body arrives (answered 408). */
  clientBodyTimeoutMs: number;
}

const AUTH_FAILURES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.INVALID_API_KEY,
  ErrorCode.API_KEY_DISABLED,
]);

/** A non-streaming request has no wait pings to stop (shared: no closure per request). */
const NO_PINGS = (): void => {};

/**
 * The hot path as named stages (STYLE.md §6): authenticate → read → validate → session hash → admit → the
 * failover loop (forward, relay, settle). Every failure before the stream started is answered in the OpenAI error
 * shape; after, in-band. Nothing here throws.
 */
export async function serveRequest(ctx: RequestContext, deps: ServeDeps): Promise<void> {
  let stopPings = NO_PINGS;
  try {
    const key = ctx.timeSync("auth", () => {
      deps.limiter.check(ctx.clientIp());
      return extractApiKey(ctx.req.headers, rawQuery(ctx.req.url ?? "/"));
    });
    const declared = Number(ctx.req.headers["content-length"] ?? Number.NaN);
    const raw = await readBody(
      ctx.req,
      deps.bodyLimitBytes,
      Number.isFinite(declared) ? declared : undefined,
      deps.clientBodyTimeoutMs,
    );
    const parsed = ctx.api === "chat" ? validateChatCompletionsRequest(raw) : validateResponsesRequest(raw);
    ctx.model = parsed.model;
    ctx.stream = parsed.stream;
    if (ctx.stream) stopPings = startPings(ctx, deps);
    const session = await ctx.time("admit", () => LeaseSession.admit(ctx, deps, key, parsed.json));
    await runWithFailover(ctx, deps, session, {
      json: parsed.json,
      raw,
      model: parsed.model,
      stream: parsed.stream,
    });
  } catch (err) {
    answerError(ctx, deps, err);
  } finally {
    stopPings();
  }
}

/** The query of a request target without its "?" ("" without one: the usual case needs no URL parse). */
function rawQuery(target: string): string {
  return target.includes("?") ? new URL(target, "http://x").search.slice(1) : "";
}

/**
 * While a streaming request waits (for its lease, then for the upstream's first output), an SSE comment every
 * `wait_ping_interval_ms`; the first one commits status 200 and the SSE headers, after which errors are in-band.
 * Returns the stop.
 */
function startPings(ctx: RequestContext, deps: ServeDeps): () => void {
  const interval = deps.snapshots.current?.settings?.waitPingIntervalMs || 10_000;
  const timer = setInterval(() => {
    if (ctx.res.writableEnded || ctx.clientGone.aborted) return clearInterval(timer);
    if (ctx.outputStarted) return;
    writePing(ctx.res);
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}

function answerError(ctx: RequestContext, deps: ServeDeps, err: unknown): void {
  const failure = asSwitchyardError(err);
  if (AUTH_FAILURES.has(failure.code)) deps.limiter.recordFailure(ctx.clientIp());
  // A client that left is no failure of ours (its pending operations are cancelled as it goes).
  if (ctx.clientGone.aborted) return;
  if (failure.code === ErrorCode.INTERNAL) ctx.log.error({ err }, "request failed");
  if (failure.code === ErrorCode.REQUEST_TOO_LARGE) discardRestOfBody(ctx);
  sendFailure(ctx.res, ctx.api, failure, ctx.model);
}

/** How long the rest of a refused upload may keep arriving (read and dropped, never buffered). */
const DISCARD_MS = 2_000;

/**
 * After a 413 the client may still be sending: closing at once would make it see a reset instead of the answer.
 * Once the answer is out, the rest of the body is read and dropped; a body that has not ended within
 * `DISCARD_MS` costs the connection.
 */
function discardRestOfBody(ctx: RequestContext): void {
  ctx.res.once("finish", () => {
    if (ctx.req.readableEnded) return;
    const timer = setTimeout(() => ctx.req.socket.destroy(), DISCARD_MS);
    timer.unref();
    ctx.req.once("end", () => clearTimeout(timer));
    ctx.req.resume();
  });
}
