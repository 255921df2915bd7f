import type { Interceptor } from "@connectrpc/connect";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";

/**
 * Ends streaming calls when the server shuts down, while unary calls run to completion. A stream's handler signal
 * is aborted (so implementations stop their work), and its response ends with UNAVAILABLE ("server is shutting
 * down") even if the implementation is blocked reading the client's messages — the client then reconnects to
 * another replica.
 */
export function createStreamShutdownInterceptor(shutdown: AbortSignal): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) return await next(req);
    const res = await next({ ...req, signal: AbortSignal.any([req.signal, shutdown]) });
    if (!res.stream) return res;
    return { ...res, message: endOnAbort(res.message, shutdown) };
  };
}

/**
 * The source's items until `signal` aborts; then an UNAVAILABLE error instead of the next item.
 *
 * A lease channel lives for hours and sends millions of messages, so nothing per message may stay reachable from
 * the long-lived signal: its one listener only sees the `next()` currently waiting, and forgets it once settled
 * (racing every `next()` against one shutdown promise would leave a reaction, and the message, on it forever).
 */
function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]();
      let waiting: ((err: unknown) => void) | undefined;
      const stop = (): SwitchyardError => {
        release();
        // Let the implementation unwind in the background; it may be blocked on the client's next message.
        void it.return?.().catch(() => undefined);
        return new SwitchyardError(ErrorCode.SHUTTING_DOWN);
      };
      const onAbort = (): void => {
        if (waiting !== undefined) waiting(toConnectError(stop()));
      };
      const release = (): void => signal.removeEventListener("abort", onAbort);
      signal.addEventListener("abort", onAbort, { once: true });
      return {
        next: () => {
          if (signal.aborted) return Promise.reject(toConnectError(stop()));
          return new Promise<IteratorResult<T>>((resolve, reject) => {
            waiting = reject;
            const settled = (): void => {
              if (waiting === reject) waiting = undefined;
            };
            it.next().then(
              (result) => {
                settled();
                if (result.done === true) release();
                resolve(result);
              },
              (err: unknown) => {
                settled();
                release();
                reject(err);
              },
            );
          });
        },
        return: async (value?: unknown) => {
          release();
          return (await it.return?.(value)) ?? { done: true, value: undefined };
        },
        throw: async (err?: unknown) => {
          release();
          if (it.throw) return await it.throw(err);
          throw err;
        },
      };
    },
  };
}
