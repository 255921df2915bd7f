import { type Exchange, pause, replyHeaders, resetConnection, SSE_TYPE, trickleBody } from "./http-reply.js";
import type { Behaviour } from "./types.js";

/** The frames of one SSE answer, ready to write, and where a `malformed` frame would go. */
export interface StreamScript {
  frames: string[];
  /** Index of the first text delta frame; the broken frame is written right after it (-1: nowhere). */
  firstDeltaIndex: number;
  malformedFrame: string;
}

/** Frame indexes at which a fault interrupts the stream (-1 when it does not). */
interface StreamFaults {
  cutAt: number;
  stallAt: number;
  resetAt: number;
}

/** A stall or reset scripted past the last frame happens after it, instead of the clean end. */
function streamFaults(behaviour: Behaviour | undefined, frameCount: number): StreamFaults {
  const stall = behaviour?.stall;
  const reset = behaviour?.reset;
  const stallAt = stall === "after-headers" ? 0 : typeof stall === "object" ? stall.afterEvents : -1;
  const resetAt = typeof reset === "object" ? reset.afterEvents : -1;
  return {
    cutAt: behaviour?.cutAfterEvents ?? -1,
    stallAt: Math.min(stallAt, frameCount),
    resetAt: Math.min(resetAt, frameCount),
  };
}

/**
 * Writes an SSE answer: status and headers, then the frames with `eventDelayMs` between them, interrupted by
 * the scripted cut (clean end without the remaining frames), stall (nothing more, socket left open) or reset;
 * or, with `trickle`, the whole stream a few bytes at a time.
 * Before-headers faults and `headersDelayMs` are the caller's business.
 */
export async function playStream(
  exchange: Exchange,
  script: StreamScript,
  behaviour?: Behaviour,
): Promise<void> {
  const { res } = exchange;
  if (exchange.closed) return;
  res.writeHead(200, replyHeaders(exchange, SSE_TYPE, behaviour?.headers));
  const { frames } = script;
  if (behaviour?.trickle !== undefined) {
    res.flushHeaders();
    return trickleBody(exchange, frames.join(""), behaviour.trickle);
  }
  const delay = behaviour?.eventDelayMs ?? 0;
  const faults = streamFaults(behaviour, frames.length);
  const malformed = behaviour?.malformed === true;
  if (delay === 0 && !malformed && faults.cutAt < 0 && faults.stallAt < 0 && faults.resetAt < 0) {
    res.write(frames.join(""));
    res.end();
    return;
  }
  res.flushHeaders();
  for (let i = 0; i <= frames.length; i++) {
    if (i === faults.cutAt) break;
    if (i === faults.stallAt) return;
    if (i === faults.resetAt) return resetConnection(exchange);
    const frame = frames[i];
    if (frame === undefined) break;
    if (i > 0 && !(await pause(exchange, delay))) return;
    res.write(frame);
    if (malformed && i === script.firstDeltaIndex) res.write(script.malformedFrame);
  }
  res.end();
}
