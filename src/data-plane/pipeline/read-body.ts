import type { Readable } from "node:stream";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import { ExchangeError } from "./client-response.js";

const MIB = 1024 * 1024;

/** The 413 for a body over `limitBytes`, naming the limit in MiB ("limit is 32 MB"). */
export function requestTooLarge(limitBytes: number): SwitchyardError {
  const mb = limitBytes / MIB;
  const shown = Number.isInteger(mb) ? String(mb) : String(Number(mb.toPrecision(3)));
  return new SwitchyardError(ErrorCode.REQUEST_TOO_LARGE, {
    message: `Request body too large, limit is ${shown} MB`,
  });
}

function unreadable(cause?: unknown): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_REQUEST, { message: "Failed to read request body", cause });
}

/**
 * Reads a whole request body of at most `limitBytes` (a body of exactly the limit is accepted).
 * A `declaredLength` (the parsed content-length) over the limit is refused before reading anything. Past the
 * limit reading stops: the stream is paused, not destroyed (destroying an IncomingMessage kills the socket the
 * 413 must go out on), so at most the limit is buffered and one chunk more is seen; the caller should answer
 * with `connection: close` so the unread rest is never drained. Rejects REQUEST_TOO_LARGE (413), or
 * INVALID_REQUEST "Failed to read request body" when the stream errors, closes before its end (client abort) or
 * was already consumed. With `idleTimeoutMs`, a body that stays silent that long (before its first chunk or
 * between two) is given up: the stream is paused and the promise rejects with the `body_timeout`
 * {@link ExchangeError} (408, connection closed). Only silence counts, so a slow but steady upload is read whole.
 */
export function readBody(
  stream: Readable,
  limitBytes: number,
  declaredLength?: number,
  idleTimeoutMs?: number,
): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limitBytes) {
    return Promise.reject(requestTooLarge(limitBytes));
  }
  if (stream.destroyed || stream.readableEnded) return Promise.reject(unreadable());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const idle = idleWatch(idleTimeoutMs, () => {
      stream.pause();
      chunks.length = 0;
      finish(new ExchangeError("body_timeout"));
    });
    const finish = (error: SwitchyardError | null): void => {
      settled = true;
      idle.stop();
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      if (error !== null) reject(error);
      else resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      idle.touch();
      total += buf.length;
      if (total <= limitBytes) {
        chunks.push(buf);
        return;
      }
      stream.pause();
      chunks.length = 0;
      finish(requestTooLarge(limitBytes));
    };
    const onEnd = (): void => finish(null);
    const onClose = (): void => finish(unreadable());
    // Stays attached after settling: a later error on a plain Readable must not become an uncaught exception.
    const onError = (err: unknown): void => {
      if (!settled) finish(unreadable(err));
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onClose);
    stream.on("error", onError);
    stream.resume();
  });
}

/**
 * Calls `onIdle` once `ms` pass without a `touch()` (never when `ms` is undefined). A stalled event loop runs due
 * timers before reading what arrived meanwhile, so the verdict waits one turn, past the poll phase: bytes already
 * received count as activity instead of being cut off.
 */
function idleWatch(ms: number | undefined, onIdle: () => void): { touch(): void; stop(): void } {
  if (ms === undefined) return { touch() {}, stop() {} };
  let touches = 0;
  let stopped = false;
  const timer = setTimeout(() => {
    const before = touches;
    setImmediate(() => {
      if (!stopped && touches === before) onIdle();
    });
  }, ms);
  return {
    touch() {
      touches++;
      timer.refresh();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
